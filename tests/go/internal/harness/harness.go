// Package harness runs named scenarios against a broker, each bounded by a
// timeout, and prints "PASS <name>" or "FAIL <name>: why" per scenario and a
// closing "<client>: N passed, M failed" line. The process exits 1 if any
// scenario failed.
package harness

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// ScenarioTimeout bounds every scenario.
const ScenarioTimeout = 60 * time.Second

// Scenario is one self-checking test against the broker.
type Scenario struct {
	Name string
	Fn   func(ctx context.Context, bootstrap string) error
}

// Main parses "program BOOTSTRAP [SCENARIO...]", runs the scenarios (all, or
// the named ones) in order and exits.
func Main(client string, scenarios []Scenario) {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s HOST:PORT [SCENARIO...]\nscenarios:", os.Args[0])
		for _, s := range scenarios {
			fmt.Fprintf(os.Stderr, " %s", s.Name)
		}
		fmt.Fprintln(os.Stderr)
		os.Exit(2)
	}
	bootstrap := os.Args[1]
	only := map[string]bool{}
	for _, a := range os.Args[2:] {
		only[a] = true
	}
	passed, failed := 0, 0
	for _, s := range scenarios {
		if len(only) > 0 && !only[s.Name] {
			continue
		}
		err := runOne(s, bootstrap)
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %s\n", s.Name, strings.ReplaceAll(err.Error(), "\n", " | "))
		} else {
			passed++
			fmt.Printf("PASS %s\n", s.Name)
		}
	}
	fmt.Printf("%s: %d passed, %d failed\n", client, passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

func runOne(s Scenario, bootstrap string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ScenarioTimeout)
	defer cancel()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		errc <- s.Fn(ctx, bootstrap)
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("%w (after %.1f s)", err, time.Since(start).Seconds())
		}
		return nil
	case <-time.After(ScenarioTimeout + 5*time.Second):
		// The scenario ignored its context: give up on it (its goroutine
		// leaks, the process exits at the end anyway).
		return fmt.Errorf("did not finish within %s", ScenarioTimeout)
	}
}

// Name returns a name unique to this run, so that reruns against the same
// broker do not collide.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000_000)
}

// Logf prints a progress line to stderr (stdout carries only the results).
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
}
