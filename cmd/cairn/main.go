// Command cairn is the cairn broker and the tool to use it: `cairn serve` will run a
// broker, every other subcommand is a client. Only this package reads flags, the
// environment and config files, sets up slog, and calls os.Exit.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		// One line, non-zero exit: the house rule for bad input.
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "cairn: a Raft-replicated, Kafka-compatible commit-log cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(demoCommand())
	root.AddCommand(serveCommand())
	root.AddCommand(healthCommand())
	root.AddCommand(devCommand())
	addClientCommands(root)
	root.AddCommand(benchCommand())
	return root
}

// newLogger returns the process logger: text on a terminal, JSON otherwise.
func newLogger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
