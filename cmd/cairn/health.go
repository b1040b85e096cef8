package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairnlog/cairn/cluster"
)

// healthCommand is `cairn health`: is one broker ready, as its /readyz says.
// It is the container health check (the image is FROM scratch: no shell, no
// curl), where `cairn cluster health` judges the whole cluster over Kafka.
func healthCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that one broker is ready (its /readyz), exit 1 if not",
		Example: `  cairn health
  cairn health --http broker1:9644   # a docker-compose health check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			timeout, err := cmd.Flags().GetDuration("timeout")
			if err != nil || timeout <= 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := checkReady(ctx, addr); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "http", cluster.DefaultHTTPAddr, "the broker's admin HTTP address (serve --http-addr)")
	return cmd
}

// checkReady returns nil when GET http://addr/readyz answers 200, else an
// error of one line carrying the broker's reason.
func checkReady(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("--http %q: %w", addr, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // without the repeated method and URL
		}
		return fmt.Errorf("broker at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("broker at %s not ready: %s", addr, strings.Join(strings.Fields(string(body)), " "))
	}
	return nil
}
