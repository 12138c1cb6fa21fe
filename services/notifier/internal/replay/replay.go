// Package replay puts an output's dead letters back in front of it: each
// message of deadletter.notifier.<output> is republished on its original
// alerts subject marked for that output alone (other outputs ack it
// unseen), keeping its alert id so a deduplicating target still sees each
// alert once, and is then removed from the DEADLETTER stream.
package replay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/delivery"
)

// Options tune [Run].
type Options struct {
	// Keep leaves the dead letters in the stream after republishing.
	Keep bool
	// Limit stops after this many (0: all).
	Limit int
}

// Run replays the dead letters of outputName that exist when it starts and
// returns how many it republished. It stops at the first failure, leaving
// the rest (and the failed one) in place; running it again goes on, and an
// alert republished twice within the ALERTS duplicate window is stored once.
func Run(ctx context.Context, js jetstream.JetStream, outputName string, o Options) (int, error) {
	subj := delivery.DeadLetterSubject(outputName)
	stream, err := js.Stream(ctx, schema.StreamDeadLetter)
	if err != nil {
		return 0, fmt.Errorf("replay %s: stream %s: %w", outputName, schema.StreamDeadLetter, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, fmt.Errorf("replay %s: stream %s: %w", outputName, schema.StreamDeadLetter, err)
	}
	total := 0
	for _, n := range info.State.Subjects {
		total += int(n)
	}
	if o.Limit > 0 && o.Limit < total {
		total = o.Limit
	}
	if total == 0 {
		return 0, nil
	}
	cons, err := js.OrderedConsumer(ctx, schema.StreamDeadLetter, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
	})
	if err != nil {
		return 0, fmt.Errorf("replay %s: consumer: %w", outputName, err)
	}
	done := 0
	for done < total {
		batch, err := cons.Fetch(min(total-done, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return done, fmt.Errorf("replay %s: fetch: %w", outputName, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if err := republish(ctx, js, stream, m, outputName, o.Keep); err != nil {
				return done, err
			}
			done++
			if done == total {
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return done, fmt.Errorf("replay %s: fetch: %w", outputName, err)
		}
		if got == 0 {
			break // fewer than counted: some were deleted meanwhile
		}
	}
	return done, nil
}

func republish(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, m jetstream.Msg, outputName string, keep bool) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("replay %s: %w", outputName, err)
	}
	h := m.Headers()
	orig := h.Get(schema.HeaderOrigSubject)
	if orig == "" {
		return fmt.Errorf("replay %s: dead letter %d has no %s header", outputName, md.Sequence.Stream, schema.HeaderOrigSubject)
	}
	out := nats.Header{}
	for k, v := range h {
		switch k {
		case schema.HeaderError, schema.HeaderOrigSubject, delivery.HeaderOutput, delivery.HeaderDeliveries:
			continue
		}
		out[k] = v
	}
	out.Set(delivery.HeaderReplayOutput, outputName)
	out.Set(schema.HeaderMsgID, "replay-"+outputName+"-"+strconv.FormatUint(md.Sequence.Stream, 10))
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: orig, Data: m.Data(), Header: out}); err != nil {
		return fmt.Errorf("replay %s: dead letter %d to %s: %w", outputName, md.Sequence.Stream, orig, err)
	}
	if keep {
		return nil
	}
	if err := stream.DeleteMsg(ctx, md.Sequence.Stream); err != nil {
		return fmt.Errorf("replay %s: delete dead letter %d: %w", outputName, md.Sequence.Stream, err)
	}
	return nil
}
