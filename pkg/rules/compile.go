package rules

import (
	"errors"
	"fmt"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const containerInfo = "%container.info"

// pred is a compiled condition.
type pred func(s *evalState) bool

// evalState is what predicates read for one event: the field context and
// per-event memos of macro results, so a macro shared by many rules of
// one event type (open_read, spawned_process ...) is computed once.
type evalState struct {
	c    *fields.Ctx
	done []uint64 // bit per macro slot: val holds the result
	val  []uint64
	// Per-event memo of field values, by slot (compiler.fieldSlots):
	// fdone says fval and fok hold the extraction's result.
	fdone, fok []uint64
	fval       []fields.Value

	// Iteration over a multi-valued field (see each).
	iterFn           func(fields.Value) bool
	iterM            func(fields.Value) bool
	iterAny, iterHit bool
}

func newEvalState(words, fieldSlots int) *evalState {
	fwords := (fieldSlots + 63) / 64
	s := &evalState{done: make([]uint64, words), val: make([]uint64, words),
		fdone: make([]uint64, fwords), fok: make([]uint64, fwords), fval: make([]fields.Value, fieldSlots)}
	s.iterFn = s.visit
	return s
}

// Compile loads files in order (later files override earlier ones) and
// compiles every rule, enabled or not, as Falco does. The error, when not
// nil, is an [Issues] listing every problem as file:line:col: message;
// the Engine is then nil.
func Compile(files []File, opts Options) (*Engine, error) {
	col := newCollection()
	for _, f := range files {
		col.load(f)
	}
	cp := &compiler{col: col, macros: map[string]*macroState{}, lists: map[string][]string{},
		usedLists: map[string]bool{}, evtType: -1, fieldSlots: map[string]int{}}
	cp.expandLists()
	cp.parseMacros()
	e := &Engine{opts: opts, byType: make([][]entry, numTypes)}
	for _, rd := range col.rules {
		if r := cp.rule(rd); r != nil {
			r.index = len(e.rules)
			e.rules = append(e.rules, r)
		}
	}
	for _, m := range col.macros {
		if !cp.macros[m.name].used {
			cp.warnings = append(cp.warnings, m.src.issue("macro not referred to by any other rule/macro", m.name))
		}
	}
	for _, l := range col.lists {
		if !cp.usedLists[l.name] {
			cp.warnings = append(cp.warnings, l.src.issue("list not referred to by any other rule/macro", l.name))
		}
	}
	words, nFields := (len(col.macros)+63)/64, len(cp.fieldSlots)
	e.states.New = func() any { return newEvalState(words, nFields) }
	issues := append(col.issues, cp.issues...)
	e.warnings = append(col.warnings, cp.warnings...).sorted(col.fileOrders)
	if len(issues) > 0 {
		return nil, issues.sorted(col.fileOrders)
	}
	for _, r := range e.rules {
		if !r.Enabled {
			continue
		}
		e.anyType = append(e.anyType, entry{r, r.match})
		if r.EventTypes == nil {
			e.untyped = append(e.untyped, entry{r, r.match})
			for t := range e.byType {
				e.byType[t] = append(e.byType[t], entry{r, r.match})
			}
			continue
		}
		for _, t := range r.EventTypes {
			e.byType[t] = append(e.byType[t], entry{r, r.typed[t]})
		}
	}
	return e, nil
}

type compiler struct {
	col       *collection
	macros    map[string]*macroState
	lists     map[string][]string // expanded items
	usedLists map[string]bool
	// fieldSlots numbers the distinct operand keys for the per-event
	// field memo.
	fieldSlots map[string]int
	issues     Issues
	warnings   Issues
	// evtType is the event type a rule is being specialised for, -1
	// for the generic predicate.
	evtType int
	// rule being compiled, for skip-if-unknown-filter
	skipUnknown bool
	skipped     bool
}

type macroState struct {
	def   *macroDef
	ast   node
	err   bool
	busy  bool // cycle detection
	used  bool
	cache map[int]*cexpr // by compiler.evtType
}

// expandLists resolves list items naming earlier lists, as Falco's
// compile_list_infos does: only lists defined before the referring list
// are expanded, others stay literal items.
func (cp *compiler) expandLists() {
	for _, l := range cp.col.lists {
		var items []string
		for _, it := range l.items {
			if ref, ok := cp.col.listIdx[it]; ok && ref.index < l.visibility && ref != l {
				items = append(items, cp.lists[ref.name]...)
				cp.usedLists[ref.name] = true
				continue
			}
			items = append(items, it)
		}
		cp.lists[l.name] = items
	}
}

// parseMacros parses every macro, used or not: a syntax error in an
// unused macro is still an error, as in Falco.
func (cp *compiler) parseMacros() {
	for _, m := range cp.col.macros {
		st := &macroState{def: m}
		cp.macros[m.name] = st
		n, err := parseCondition(m.cond.text())
		if err != nil {
			cp.parseIssue(m.cond, err, "macro "+m.name)
			st.err = true
			continue
		}
		st.ast = n
	}
	// Undefined references are errors even in unused macros.
	for _, m := range cp.col.macros {
		st := cp.macros[m.name]
		if st.ast == nil {
			continue
		}
		walkIdents(st.ast, func(id *identNode) {
			ref, ok := cp.macros[id.name]
			if !ok || ref.def.index >= m.visibility && ref.def != m {
				cp.issues = append(cp.issues, m.cond.issueAt(id.at,
					fmt.Sprintf("macro %s: undefined macro '%s' used in filter", m.name, id.name), id.name))
			}
		})
	}
}

func walkIdents(n node, fn func(*identNode)) {
	switch n := n.(type) {
	case *andNode:
		for _, k := range n.kids {
			walkIdents(k, fn)
		}
	case *orNode:
		for _, k := range n.kids {
			walkIdents(k, fn)
		}
	case *notNode:
		walkIdents(n.kid, fn)
	case *identNode:
		fn(n)
	}
}

func (cp *compiler) parseIssue(cond segmented, err error, what string) {
	var pe *parseError
	if errors.As(err, &pe) {
		cp.issues = append(cp.issues, cond.issueAt(pe.at, what+": "+pe.msg, pe.item))
		return
	}
	cp.issues = append(cp.issues, cond.issueAt(0, what+": "+err.Error(), ""))
}

// cexpr is a compiled (sub)condition: its predicate, whether it is a
// constant (Falco's static pruning of evt.num=0 and similar), and the
// event types it can match under and without negation.
type cexpr struct {
	p     pred
	konst int8 // 0 not constant, 1 always true, -1 always false
	types evtSet
	neg   evtSet // types of "not (this)"
	// leaf, when set, says the expression reads one single-valued field
	// once: neighbouring leaves of the same field under one and/or are
	// merged so the field is extracted once for all of them.
	leaf *leaf
}

type leaf struct {
	key string // field spelling and transformers
	get func(*evalState) (fields.Value, bool)
	fn  func(v fields.Value, ok bool) bool
}

// mergeLeaves joins runs of adjacent leaves on the same field. Every
// check is a pure function of the event, so evaluating the run on one
// extraction gives the same result as evaluating each check.
func mergeLeaves(live []cexpr, isAnd bool) []cexpr {
	var out []cexpr
	for i := 0; i < len(live); {
		j := i + 1
		if l := live[i].leaf; l != nil {
			for j < len(live) && live[j].leaf != nil && live[j].leaf.key == l.key {
				j++
			}
		}
		if j == i+1 {
			out = append(out, live[i])
			i = j
			continue
		}
		fns := make([]func(fields.Value, bool) bool, 0, j-i)
		for _, k := range live[i:j] {
			fns = append(fns, k.leaf.fn)
		}
		fn := func(v fields.Value, ok bool) bool {
			for _, f := range fns {
				if f(v, ok) != isAnd {
					return !isAnd
				}
			}
			return isAnd
		}
		get := live[i].leaf.get
		out = append(out, cexpr{p: func(c *evalState) bool { v, ok := get(c); return fn(v, ok) },
			types: live[i].types, neg: live[i].neg, leaf: &leaf{key: live[i].leaf.key, get: get, fn: fn}})
		i = j
	}
	return out
}

// scope is where a condition comes from, for error positions.
type scope struct {
	cond segmented
	what string // "rule X", "macro Y"
	// visible reports whether a macro may be referenced from here.
	visible func(*macroState) bool
}

func (cp *compiler) rule(rd *ruleDef) *Rule {
	r := &Rule{Name: rd.name, Desc: rd.desc, Priority: rd.priority, Tags: rd.tags, Source: rd.source,
		Enabled: rd.enabled, Output: rd.output}
	if rd.source != "syscall" {
		cp.warnings = append(cp.warnings, rd.src.issue(fmt.Sprintf("rule %q: source %q is not supported; rule skipped", rd.name, rd.source), rd.source))
		return nil
	}
	cp.skipUnknown, cp.skipped = rd.skipUnknown, false
	nIssues := len(cp.issues)
	what := "rule " + rd.name
	main, err := parseCondition(rd.cond.text())
	if err != nil {
		cp.parseIssue(rd.cond, err, what)
		return nil
	}
	ce := cp.ruleCond(rd, main)
	r.Condition = rd.cond.text() + cp.exceptionsText(rd)
	output := rd.output
	if strings.Contains(output, containerInfo) {
		// Falco dropped the %container.info expansion when container
		// fields moved to the container plugin; it removes the token and
		// warns.
		cp.warnings = append(cp.warnings, rd.outputSrc.issue(what+": %container.info is deprecated and is removed from the output", containerInfo))
		output = strings.ReplaceAll(output, containerInfo, "")
		r.Output = output
	}
	f, ferr := cp.compileFormat(output)
	if ferr != nil {
		if cp.skipUnknown && errors.Is(ferr, fields.ErrUnknownField) {
			cp.warnings = append(cp.warnings, rd.outputSrc.issue(what+": "+ferr.Error()+"; rule skipped (skip-if-unknown-filter)", rd.output))
			return nil
		}
		cp.issues = append(cp.issues, rd.outputSrc.issue(what+": invalid output: "+ferr.Error(), rd.output))
	}
	if cp.skipped {
		cp.issues = cp.issues[:nIssues]
		return nil
	}
	if len(cp.issues) > nIssues {
		return nil
	}
	r.match = ce.p
	r.format = f
	r.EventTypes = ce.types.list()
	if ce.types.all() && rd.warnEvt {
		cp.warnings = append(cp.warnings, rd.src.issue(what+": rule matches too many evt.type values; this has a significant performance penalty", rd.name))
	}
	cp.specialize(r, rd, main)
	return r
}

// specialize compiles the rule once more for each event type it is
// indexed under, with every evt.type check folded to a constant: the
// index already decided the type, so the branches of other types and
// the evt.type tests themselves disappear from the per-event work.
// Rules that apply to every type keep the generic predicate.
func (cp *compiler) specialize(r *Rule, rd *ruleDef, main node) {
	if r.EventTypes == nil {
		return
	}
	nIssues, nWarn := len(cp.issues), len(cp.warnings)
	r.typed = make(map[schema.EventType]pred, len(r.EventTypes))
	for _, t := range r.EventTypes {
		cp.evtType = int(t)
		ce := cp.ruleCond(rd, main)
		if ce.konst == -1 {
			// Cannot happen for a type of the rule's set; keep the
			// generic predicate rather than trust the fold.
			ce.p = r.match
		}
		r.typed[t] = ce.p
	}
	cp.evtType = -1
	// The same checks ran already; their issues were reported once.
	cp.issues, cp.warnings = cp.issues[:nIssues], cp.warnings[:nWarn]
}

// ruleCond compiles a rule's condition and its exceptions.
func (cp *compiler) ruleCond(rd *ruleDef, main node) cexpr {
	what := "rule " + rd.name
	sc := scope{cond: rd.cond, what: what, visible: func(*macroState) bool { return true }}
	ce := cp.expr(main, sc)
	for _, ex := range rd.exceptions {
		exCond, ok := cp.exceptionCond(rd, ex)
		if !ok || exCond == "" {
			continue
		}
		exSrc := ex.src
		exSrc.whole = true
		exSeg := segmented{{text: exCond, src: exSrc}}
		n, err := parseCondition(exCond)
		if err != nil {
			cp.parseIssue(exSeg, err, what+": exception "+ex.name)
			continue
		}
		exc := cp.expr(n, scope{cond: exSeg, what: what + ": exception " + ex.name, visible: sc.visible})
		ce = andExpr([]cexpr{ce, notExpr(exc)})
	}
	return ce
}

func (cp *compiler) exceptionsText(rd *ruleDef) string {
	var b strings.Builder
	for _, ex := range rd.exceptions {
		if s, ok := buildException(ex); ok && s != "" {
			b.WriteString(" and not ")
			b.WriteString(s)
		}
	}
	return b.String()
}

func (cp *compiler) exceptionCond(rd *ruleDef, ex exceptionDef) (string, bool) {
	for _, v := range ex.values {
		if ex.fields.isList {
			if !v.isList {
				cp.issues = append(cp.issues, ex.src.issue(fmt.Sprintf("rule %s: exception %s: each value must be a list matching fields", rd.name, ex.name), ex.name))
				return "", false
			}
			if len(v.items) != len(ex.fields.items) {
				cp.issues = append(cp.issues, ex.src.issue(fmt.Sprintf("rule %s: exception %s: fields and values lists must have equal length", rd.name, ex.name), ex.name))
				return "", false
			}
		} else if v.isList {
			cp.issues = append(cp.issues, ex.src.issue(fmt.Sprintf("rule %s: exception %s: expected values array to contain a list of strings", rd.name, ex.name), ex.name))
			return "", false
		}
	}
	s, _ := buildException(ex)
	return s, true
}

// buildException writes an exception as condition text like Falco's
// build_rule_exception_infos: one field gives "(f op (v1, v2))", a fields
// list gives "((f1 op1 v1 and f2 op2 v2) or (...))". Values with spaces
// are quoted; values of list operators are parenthesised.
func buildException(ex exceptionDef) (string, bool) {
	if !ex.fields.isList {
		if len(ex.values) == 0 {
			return "", true
		}
		var items []string
		for _, v := range ex.values {
			items = append(items, quoteItem(v.item))
		}
		return "(" + ex.fields.item + " " + ex.comps.item + " (" + strings.Join(items, ", ") + "))", true
	}
	var alts []string
	for _, vals := range ex.values {
		if len(vals.items) != len(ex.fields.items) {
			return "", false
		}
		var parts []string
		for k, f := range ex.fields.items {
			op := ex.comps.items[k].item
			v := vals.items[k]
			var rhs string
			if v.isList {
				var items []string
				for _, it := range v.items {
					items = append(items, quoteItem(it.item))
				}
				rhs = "(" + strings.Join(items, ", ") + ")"
			} else if isListOp(op) {
				rhs = v.item
				if !strings.HasPrefix(rhs, "(") {
					rhs = "(" + rhs + ")"
				}
			} else {
				rhs = quoteItem(v.item)
			}
			parts = append(parts, f.item+" "+op+" "+rhs)
		}
		alts = append(alts, "("+strings.Join(parts, " and ")+")")
	}
	if len(alts) == 0 {
		return "", true
	}
	return "(" + strings.Join(alts, " or ") + ")", true
}

func quoteItem(s string) string {
	if strings.Contains(s, " ") && s[0] != '"' && s[0] != '\'' {
		return `"` + s + `"`
	}
	return s
}

func isListOp(op string) bool { return op == "in" || op == "intersects" || op == "pmatch" }

// expr compiles a condition node.
func (cp *compiler) expr(n node, sc scope) cexpr {
	switch n := n.(type) {
	case *andNode:
		kids := make([]cexpr, len(n.kids))
		for i, k := range n.kids {
			kids[i] = cp.expr(k, sc)
		}
		return andExpr(kids)
	case *orNode:
		kids := make([]cexpr, len(n.kids))
		for i, k := range n.kids {
			kids[i] = cp.expr(k, sc)
		}
		return orExpr(kids)
	case *notNode:
		return notExpr(cp.expr(n.kid, sc))
	case *identNode:
		return cp.macroRef(n, sc)
	case *checkNode:
		return cp.check(n, sc)
	}
	panic(fmt.Sprintf("rules: unknown node %T", n))
}

var (
	constTrue  = cexpr{p: func(*evalState) bool { return true }, konst: 1, types: allTypes(), neg: evtSet{}}
	constFalse = cexpr{p: func(*evalState) bool { return false }, konst: -1, types: evtSet{}, neg: allTypes()}
)

func andExpr(kids []cexpr) cexpr {
	var live []cexpr
	types, neg := allTypes(), evtSet{}
	for _, k := range kids {
		types = types.and(k.types)
		neg = neg.or(k.neg)
		switch k.konst {
		case -1:
			return constFalse
		case 1:
			continue
		}
		live = append(live, k)
	}
	live = mergeLeaves(live, true)
	switch len(live) {
	case 0:
		return constTrue
	case 1:
		return cexpr{p: live[0].p, types: types, neg: neg, leaf: live[0].leaf}
	case 2:
		a, b := live[0].p, live[1].p
		return cexpr{p: func(c *evalState) bool { return a(c) && b(c) }, types: types, neg: neg}
	}
	ps := preds(live)
	return cexpr{p: func(c *evalState) bool {
		for _, p := range ps {
			if !p(c) {
				return false
			}
		}
		return true
	}, types: types, neg: neg}
}

func orExpr(kids []cexpr) cexpr {
	var live []cexpr
	types, neg := evtSet{}, allTypes()
	for _, k := range kids {
		types = types.or(k.types)
		neg = neg.and(k.neg)
		switch k.konst {
		case 1:
			return constTrue
		case -1:
			continue
		}
		live = append(live, k)
	}
	live = mergeLeaves(live, false)
	switch len(live) {
	case 0:
		return constFalse
	case 1:
		return cexpr{p: live[0].p, types: types, neg: neg, leaf: live[0].leaf}
	case 2:
		a, b := live[0].p, live[1].p
		return cexpr{p: func(c *evalState) bool { return a(c) || b(c) }, types: types, neg: neg}
	}
	ps := preds(live)
	return cexpr{p: func(c *evalState) bool {
		for _, p := range ps {
			if p(c) {
				return true
			}
		}
		return false
	}, types: types, neg: neg}
}

func notExpr(k cexpr) cexpr {
	switch k.konst {
	case 1:
		return constFalse
	case -1:
		return constTrue
	}
	p := k.p
	ce := cexpr{p: func(c *evalState) bool { return !p(c) }, types: k.neg, neg: k.types}
	if l := k.leaf; l != nil {
		fn := l.fn
		ce.leaf = &leaf{key: l.key, get: l.get, fn: func(v fields.Value, ok bool) bool { return !fn(v, ok) }}
	}
	return ce
}

func preds(ks []cexpr) []pred {
	ps := make([]pred, len(ks))
	for i, k := range ks {
		ps[i] = k.p
	}
	return ps
}

// macroRef compiles a macro reference. A macro's compiled form is cached
// and shared by every rule that uses it.
func (cp *compiler) macroRef(id *identNode, sc scope) cexpr {
	st, ok := cp.macros[id.name]
	if !ok || !sc.visible(st) {
		cp.issues = append(cp.issues, sc.cond.issueAt(id.at, fmt.Sprintf("%s: undefined macro '%s' used in filter", sc.what, id.name), id.name))
		return constFalse
	}
	st.used = true
	if st.err {
		return constFalse
	}
	if ce, ok := st.cache[cp.evtType]; ok {
		return *ce
	}
	if st.busy {
		cp.issues = append(cp.issues, sc.cond.issueAt(id.at, fmt.Sprintf("%s: macro '%s' refers to itself", sc.what, id.name), id.name))
		return constFalse
	}
	st.busy = true
	nIssues, skipped := len(cp.issues), cp.skipped
	m := st.def
	ce := cp.expr(st.ast, scope{cond: m.cond, what: "macro " + m.name, visible: func(o *macroState) bool {
		return o.def.index < m.visibility || o.def == m
	}})
	st.busy = false
	// A macro that failed, or that was skipped for an unknown field, is
	// not cached: the next rule reports the same problem in its own way.
	if ce.konst == 0 {
		// Macros like proc_name_exists are shared by dozens of rules of
		// one type: memoising beats merging them into their parents.
		ce.p, ce.leaf = memo(st.def.index, ce.p), nil
	}
	switch {
	case len(cp.issues) > nIssues:
		st.err = true
	case cp.skipped == skipped:
		if st.cache == nil {
			st.cache = map[int]*cexpr{}
		}
		st.cache[cp.evtType] = &ce
	}
	return ce
}

// memo caches a macro's result for the current event in slot.
func memo(slot int, p pred) pred {
	w, bit := slot/64, uint64(1)<<(slot%64)
	return func(s *evalState) bool {
		if s.done[w]&bit != 0 {
			return s.val[w]&bit != 0
		}
		v := p(s)
		s.done[w] |= bit
		if v {
			s.val[w] |= bit
		} else {
			s.val[w] &^= bit
		}
		return v
	}
}
