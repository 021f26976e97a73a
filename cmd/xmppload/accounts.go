package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// createReport is what account creation did.
type createReport struct {
	Created  int     `json:"created"`
	ElapsedS float64 `json:"elapsed_s"`
}

// createAccounts runs the -create template once per account, at most
// o.createConcurrency at a time, with {user} and {domain} replaced (shell
// quoted) and the password on stdin. The first failure stops it.
func createAccounts(ctx context.Context, o *options) (createReport, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, created atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range min(o.createConcurrency, o.accounts) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.accounts {
					return
				}
				if err := createOne(ctx, o, o.username(i)); err != nil {
					cancel(err)
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Wait()
	r := createReport{Created: int(created.Load()), ElapsedS: seconds(time.Since(start))}
	if err := context.Cause(ctx); err != nil {
		return r, err
	}
	return r, nil
}

// createOne runs the -create template for user.
func createOne(ctx context.Context, o *options, user string) error {
	cmdline := strings.NewReplacer("{user}", shellQuote(user), "{domain}", shellQuote(o.domain)).Replace(o.create)
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Stdin = strings.NewReader(o.password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("creating account %s@%s: %s: %w: %s", user, o.domain, cmdline, err, strings.TrimSpace(out.String()))
	}
	return nil
}
