// Command kfakebench runs a command against franz-go's in-memory kfake cluster:
// the Kafka protocol with no storage and no replication cost, the ceiling cairn's
// figures are compared to. It starts the cluster on 127.0.0.1, runs the command
// with CAIRN_BROKERS set to the cluster's addresses, stops the cluster, and exits
// with the command's status.
//
//	kfakebench -brokers 3 -- bin/cairn bench e2e --records 100000 --replication 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func run() (int, error) {
	brokers := flag.Int("brokers", 3, "brokers of the in-memory cluster")
	flag.Parse()
	if flag.NArg() == 0 {
		return 2, errors.New("no command: kfakebench [-brokers n] -- command [args...]")
	}
	if *brokers < 1 || *brokers > 16 {
		return 2, fmt.Errorf("-brokers %d: want 1..16", *brokers)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(*brokers))
	if err != nil {
		return 1, fmt.Errorf("start kfake: %w", err)
	}
	defer c.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := exec.CommandContext(ctx, flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "CAIRN_BROKERS="+strings.Join(c.ListenAddrs(), ","))
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), nil
		}
		return 1, err
	}
	return 0, nil
}

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebench:", err)
	}
	os.Exit(code)
}
