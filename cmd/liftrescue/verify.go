package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/liftrescue/liftrescue"
)

// errChainBroken makes `liftrescue verify` exit non-zero when the record was tampered with.
var errChainBroken = errors.New("the incident record's hash chain is broken")

// runVerify walks the hash chain of every incident event and names the first broken link.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var name string
	f := newFlags("verify", "liftrescue verify [flags]: check that no incident event was changed or removed since it was written")
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	f.String(&name, "sqlite-name", "liftrescue", `the embedded database's name in --data: "liftrescue" (serve) or "demo"`)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := openStore(ctx, &cfg, name)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := liftrescue.VerifyChain(ctx, store)
	if err != nil {
		return err
	}
	if b := r.Broken; b != nil {
		fmt.Fprintf(stdout, "BROKEN at event %d (incident %d): %s\n%d events before it hold.\n", b.Seq, b.IncidentID, b.Reason, r.Events)
		return errChainBroken
	}
	fmt.Fprintf(stdout, "chain whole: %d events, head %s\n", r.Events, r.Head)
	return nil
}
