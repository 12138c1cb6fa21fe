package rules

import (
	"errors"
	"fmt"
	"slices"
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
	c *fields.Ctx
	// gen numbers the event being evaluated; a memo slot holds a value
	// for this event when its gen is equal, so a new event invalidates
	// every slot without clearing them.
	gen    uint32
	macros []macroSlot // by macro index
	fields []fieldSlot // by fieldMemo.slot
	// falseGuards are the guard macros found false for this event.
	falseGuards guardSet

	// Iteration over a multi-valued field (see each).
	iterFn           func(fields.Value) bool
	iterM            func(fields.Value) bool
	iterAny, iterHit bool
}

type macroSlot struct {
	gen uint32
	val bool
}

func newEvalState(macros, fields int) *evalState {
	s := &evalState{macros: make([]macroSlot, macros), fields: make([]fieldSlot, fields)}
	s.iterFn = s.visit
	return s
}

// next starts a new event: every memo slot becomes stale.
func (s *evalState) next() {
	s.falseGuards = guardSet{}
	s.gen++
	if s.gen == 0 {
		// After 2^32 events the oldest stamps come round again.
		clear(s.macros)
		clear(s.fields)
		s.gen = 1
	}
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
		usedLists: map[string]bool{}, evtType: -1, fieldMemos: map[string]*fieldMemo{},
		guardIDs: map[int]int32{}}
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
	nMacros, nFields := len(col.macros), len(cp.fieldMemos)
	e.states.New = func() any { return newEvalState(nMacros, nFields) }
	issues := append(col.issues, cp.issues...)
	e.warnings = append(col.warnings, cp.warnings...).sorted(col.fileOrders)
	if len(issues) > 0 {
		return nil, issues.sorted(col.fileOrders)
	}
	for _, r := range e.rules {
		if !r.Enabled {
			continue
		}
		generic := entry{r, r.match, r.guards}
		e.anyType = append(e.anyType, generic)
		if r.EventTypes == nil {
			e.untyped = append(e.untyped, generic)
			for t := range e.byType {
				e.byType[t] = append(e.byType[t], generic)
			}
			continue
		}
		for _, t := range r.EventTypes {
			e.byType[t] = append(e.byType[t], r.typed[t])
		}
	}
	return e, nil
}

type compiler struct {
	col       *collection
	macros    map[string]*macroState
	lists     map[string][]string // expanded items
	usedLists map[string]bool
	// fieldMemos holds the per-event memo slot of each operand spelling
	// (field and transformers).
	fieldMemos map[string]*fieldMemo
	// guardIDs numbers the memoised macros for guardSet, by macro index.
	guardIDs map[int]int32
	issues   Issues
	warnings Issues
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
	// guards are the memoised macros the expression implies: when one
	// of them is already known false for an event, so is the expression.
	guards guardSet
}

// guardSet is a set of guard ids (compiler.guardIDs), one bit each.
// Rules of one event type share most of their leading macros
// (open_read, spawned_process, container ...): once one rule found such a
// macro false, every later rule that implies it is skipped with one test.
type guardSet [4]uint64

// maxGuardIDs is how many macros can serve as guards; macros past it
// are still memoised, only not used to skip rules.
const maxGuardIDs = len(guardSet{}) * 64

func (g *guardSet) add(id int32) { u := uint32(id); g[u/64%4] |= 1 << (u % 64) }
func (g guardSet) or(o guardSet) guardSet {
	return guardSet{g[0] | o[0], g[1] | o[1], g[2] | o[2], g[3] | o[3]}
}
func (g guardSet) and(o guardSet) guardSet {
	return guardSet{g[0] & o[0], g[1] & o[1], g[2] & o[2], g[3] & o[3]}
}
func (g *guardSet) meets(o *guardSet) bool {
	return g[0]&o[0]|g[1]&o[1]|g[2]&o[2]|g[3]&o[3] != 0
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
	f, ferr := cp.compileFormat(rd.output)
	if ferr != nil {
		at := outputIssue(rd)
		if cp.skipUnknown && errors.Is(ferr, fields.ErrUnknownField) {
			cp.warnings = append(cp.warnings, at(ferr, what+": "+ferr.Error()+"; rule skipped (skip-if-unknown-filter)"))
			return nil
		}
		cp.issues = append(cp.issues, at(ferr, what+": invalid output: "+ferr.Error()))
	}
	if cp.skipped {
		cp.issues = cp.issues[:nIssues]
		return nil
	}
	if len(cp.issues) > nIssues {
		return nil
	}
	r.match, r.guards = ce.p, ce.guards
	r.format = f
	r.EventTypes = ce.types.list()
	if ce.types.all() && rd.warnEvt {
		cp.warnings = append(cp.warnings, rd.src.issue(what+": rule matches too many evt.type values; this has a significant performance penalty", rd.name))
	}
	cp.specialize(r, rd, main)
	return r
}

// outputIssue returns the function that places an output error: at the
// bad token when the output is the YAML scalar as written (trimmed), at
// the output key when appends built it from several scalars.
func outputIssue(rd *ruleDef) func(err error, msg string) Issue {
	return func(err error, msg string) Issue {
		var fe *formatError
		if !errors.As(err, &fe) {
			return rd.outputSrc.issue(msg, rd.output)
		}
		if n := rd.outputSrc.node; n != nil && strings.TrimSpace(n.Value) == rd.output {
			return rd.outputSrc.issueAt(strings.Index(n.Value, rd.output)+fe.at, msg, fe.item)
		}
		return rd.outputSrc.issue(msg, fe.item)
	}
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
	r.typed = make(map[schema.EventType]entry, len(r.EventTypes))
	for _, t := range r.EventTypes {
		cp.evtType = int(t)
		ce := cp.ruleCond(rd, main)
		if ce.konst == -1 {
			// Cannot happen for a type of the rule's set; keep the
			// generic predicate rather than trust the fold.
			ce.p, ce.guards = r.match, r.guards
		}
		r.typed[t] = entry{r, ce.p, ce.guards}
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
	var guards guardSet
	for _, k := range live {
		guards = guards.or(k.guards)
	}
	// Conjuncts that imply memoised macros go first: their results are
	// shared with the other rules of the event, and a false one lets the
	// engine skip every later rule implying it. Checks are pure
	// functions of the event, so the order does not change the result.
	slices.SortStableFunc(live, func(a, b cexpr) int {
		return b2i(a.guards == guardSet{}) - b2i(b.guards == guardSet{})
	})
	switch len(live) {
	case 0:
		return constTrue
	case 1:
		return cexpr{p: live[0].p, types: types, neg: neg, guards: guards}
	case 2:
		a, b := live[0].p, live[1].p
		return cexpr{p: func(c *evalState) bool { return a(c) && b(c) }, types: types, neg: neg, guards: guards}
	case 3:
		// Most rules are three or four conjuncts after folding; a fixed
		// chain saves the loop over a slice per rule and event.
		a, b, d := live[0].p, live[1].p, live[2].p
		return cexpr{p: func(c *evalState) bool { return a(c) && b(c) && d(c) }, types: types, neg: neg, guards: guards}
	case 4:
		a, b, d, f := live[0].p, live[1].p, live[2].p, live[3].p
		return cexpr{p: func(c *evalState) bool { return a(c) && b(c) && d(c) && f(c) }, types: types, neg: neg, guards: guards}
	}
	ps := preds(live)
	return cexpr{p: func(c *evalState) bool {
		for _, p := range ps {
			if !p(c) {
				return false
			}
		}
		return true
	}, types: types, neg: neg, guards: guards}
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
	switch len(live) {
	case 0:
		return constFalse
	case 1:
		return cexpr{p: live[0].p, types: types, neg: neg, guards: live[0].guards}
	}
	// A macro every alternative implies is implied by the whole.
	guards := live[0].guards
	for _, k := range live[1:] {
		guards = guards.and(k.guards)
	}
	if len(live) == 2 {
		a, b := live[0].p, live[1].p
		return cexpr{p: func(c *evalState) bool { return a(c) || b(c) }, types: types, neg: neg, guards: guards}
	}
	ps := preds(live)
	return cexpr{p: func(c *evalState) bool {
		for _, p := range ps {
			if p(c) {
				return true
			}
		}
		return false
	}, types: types, neg: neg, guards: guards}
}

func notExpr(k cexpr) cexpr {
	switch k.konst {
	case 1:
		return constFalse
	case -1:
		return constTrue
	}
	p := k.p
	return cexpr{p: func(c *evalState) bool { return !p(c) }, types: k.neg, neg: k.types}
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
		id, ok := cp.guardIDs[st.def.index]
		if !ok && len(cp.guardIDs) < maxGuardIDs {
			id, ok = int32(len(cp.guardIDs)), true
			cp.guardIDs[st.def.index] = id
		}
		if !ok {
			id = -1
		}
		ce.p = memo(st.def.index, id, ce.p)
		if id >= 0 {
			ce.guards.add(id)
		}
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

// memo caches a macro's result for the current event in slot and, when
// the macro has a guard id, records a false result in the state's
// guard set.
func memo(slot int, guard int32, p pred) pred {
	var gw int
	var gbit uint64 // 0: no guard id
	if guard >= 0 {
		gw, gbit = int(guard/64), 1<<(guard%64)
	}
	return func(s *evalState) bool {
		if m := &s.macros[slot]; m.gen == s.gen {
			return m.val
		}
		v := p(s)
		s.macros[slot] = macroSlot{gen: s.gen, val: v}
		if !v {
			s.falseGuards[gw&3] |= gbit
		}
		return v
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
