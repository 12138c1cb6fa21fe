package app

import (
	"context"
	"log/slog"
	"sync"

	"github.com/peregrine-rt/peregrine/pkg/bus"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/config"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/fields"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/grpcapi"
)

// startGRPC opens the gRPC listeners and starts serving and feeding them;
// it returns an error, naming the address, when a listener cannot open.
func startGRPC(ctx context.Context, wg *sync.WaitGroup, errc chan<- error, cfg *config.Config, conn *bus.Conn, enrich *fields.Enricher, log *slog.Logger) error {
	srv := grpcapi.New(cfg.GRPC.BufSize)
	addrs := cfg.GRPC.BindAddresses
	if cfg.GRPC.BindAddress != "" {
		addrs = append([]string{cfg.GRPC.BindAddress}, addrs...)
	}
	if len(addrs) == 0 {
		addrs = []string{"unix:///run/peregrine/notifier.sock"}
	}
	files := grpcapi.TLSFiles{CertChain: cfg.GRPC.CertChain, PrivateKey: cfg.GRPC.PrivateKey, RootCerts: cfg.GRPC.RootCerts}
	for _, addr := range addrs {
		ln, opts, err := grpcapi.Listen(addr, files)
		if err != nil {
			return err
		}
		log.Info("grpc outputs API", logAddr, addr)
		wg.Go(func() {
			if err := srv.Serve(ctx, ln, opts...); err != nil {
				errc <- err
			}
		})
	}
	prepare := func(a *schema.Alert) {
		if err := enrich.Apply(a); err != nil {
			log.Debug("templated field", logError, err)
		}
	}
	stop, err := grpcapi.Feed(ctx, conn.JS, srv, prepare)
	if err != nil {
		return err
	}
	wg.Go(func() {
		<-ctx.Done()
		stop()
	})
	return nil
}
