package main

// The client commands: everything but `serve` and `demo`. Each speaks the Kafka
// protocol through franz-go (kgo for records, kadm for administration), so each
// works against any Kafka-compatible cluster, not only cairn.
//
// Conventions shared by every client command:
//   - --brokers (env CAIRN_BROKERS) names the seed brokers; --timeout bounds every
//     administrative request and every produce.
//   - --format text|json picks the output: aligned tables or indented JSON.
//     produce and consume shadow --format with their record templates.
//   - Tables and records go to stdout; summaries and progress go to stderr.
//   - A failure is returned as one line (main prints "cairn: <err>", exits 1).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"
)

// Defaults of the global client flags.
const (
	defaultBrokers = "localhost:9092"
	defaultTimeout = 10 * time.Second
)

// globalFlags are the persistent flags of every client command. One value per
// root command; the closures of the commands below share it.
type globalFlags struct {
	brokers string        // comma-separated seed brokers
	format  string        // "text" or "json"
	timeout time.Duration // bound on admin requests and on produce delivery
}

// addClientCommands registers the client commands and their persistent global
// flags on root.
func addClientCommands(root *cobra.Command) {
	g := &globalFlags{}
	brokers := os.Getenv("CAIRN_BROKERS")
	if brokers == "" {
		brokers = defaultBrokers
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.brokers, "brokers", brokers, "comma-separated seed brokers (env CAIRN_BROKERS)")
	pf.StringVar(&g.format, "format", "text", "output format: text or json")
	pf.DurationVar(&g.timeout, "timeout", defaultTimeout, "bound on each admin request and on produce delivery")

	cmds := []*cobra.Command{
		topicCommand(g),
		produceCommand(g),
		consumeCommand(g),
		groupCommand(g),
		clusterCommand(g),
	}
	for _, c := range cmds {
		oneLineErrors(c)
		root.AddCommand(c)
	}
}

// oneLineErrors wraps the RunE of c and of its descendants so that a returned
// error prints as one line.
func oneLineErrors(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				return lineError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		oneLineErrors(sub)
	}
}

// lineError flattens its error's text to one line, keeping errors.Is and As.
type lineError struct{ err error }

func (e lineError) Error() string {
	return strings.Join(strings.Fields(e.err.Error()), " ")
}

func (e lineError) Unwrap() error { return e.err }

// seeds returns the seed brokers named by --brokers.
func (g *globalFlags) seeds() ([]string, error) {
	var out []string
	for _, b := range strings.Split(g.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--brokers is empty")
	}
	return out, nil
}

// json reports whether --format asks for JSON, and rejects formats other than
// text and json.
func (g *globalFlags) json() (bool, error) {
	switch g.format {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("--format %q: want text or json", g.format)
}

// newClient returns a kgo client for the seed brokers, with opts appended.
// The caller closes it.
func (g *globalFlags) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := g.seeds()
	if err != nil {
		return nil, err
	}
	if g.timeout <= 0 {
		return nil, fmt.Errorf("--timeout %v: want a positive duration", g.timeout)
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("cairn-cli"),
		kgo.DialTimeout(min(g.timeout, 5*time.Second)),
		// Give up on an unreachable cluster within --timeout rather than kgo's
		// default of retrying for a minute.
		kgo.RetryTimeout(g.timeout),
		// A partition without a leader (a topic created a moment ago, a
		// failover) is looked up again soon: a command is short-lived, and
		// kgo's default of 5 s between metadata requests would stall it.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}

// admin is a kadm client and the context, bounded by --timeout, that its
// requests use. Close releases both.
type admin struct {
	*kadm.Client
	ctx    context.Context
	cancel context.CancelFunc
}

// newAdmin returns an admin client for cmd, its context bounded by --timeout.
func (g *globalFlags) newAdmin(cmd *cobra.Command) (*admin, error) {
	cl, err := g.newClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(g.timeout.Milliseconds()))
	return &admin{Client: adm, ctx: ctx, cancel: cancel}, nil
}

func (a *admin) Close() {
	a.cancel()
	a.Client.Close()
}

// listOffsets calls list with the admin context until it answers for every
// partition, fails for good, or the context ends (then it returns the last
// error). A partition whose leader is being elected or moving answers a
// retriable error, which Kafka clients are to ask again about; kgo does not
// for the partitions of a ListOffsets that otherwise succeeded.
func (a *admin) listOffsets(list func(context.Context) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
	backoff := 50 * time.Millisecond
	for {
		l, err := list(a.ctx)
		if err == nil {
			err = l.Error()
		}
		if err == nil || !retriable(err) {
			return l, err
		}
		select {
		case <-a.ctx.Done():
			return l, err
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		}
	}
}

// retriable reports whether err (every error of it, for the shard errors of a
// request sent to several brokers) is one to ask again about: a Kafka error
// kerr calls retriable, but for an unknown topic or partition, which is most
// often a name mistyped and should fail at once.
func retriable(err error) bool {
	var se *kadm.ShardErrors
	if errors.As(err, &se) {
		for _, e := range se.Errs {
			if !retriable(e.Err) {
				return false
			}
		}
		return len(se.Errs) > 0
	}
	return kerr.IsRetriable(err) && !errors.Is(err, kerr.UnknownTopicOrPartition)
}

// kafkaErr names a failed request's error for a person: the context's error when
// --timeout ran out or the user interrupted, the Kafka error name otherwise
// (kerr errors print as NAME: description).
func kafkaErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, ctxErr) || errors.Is(err, context.DeadlineExceeded)) {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: no answer from the brokers within --timeout: %w", what, err)
		}
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	var am *kadm.ErrAndMessage
	if errors.As(err, &am) && am.ErrMessage == "" {
		err = am.Err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// table writes aligned columns to out when flushed, without trailing spaces.
type table struct {
	out io.Writer
	buf bytes.Buffer
	w   *tabwriter.Writer
}

func newTable(out io.Writer, header ...string) *table {
	t := &table{out: out}
	t.w = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	if len(header) > 0 {
		t.row(toAny(header)...)
	}
	return t
}

func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.w, "\t")
		}
		fmt.Fprint(t.w, c)
	}
	io.WriteString(t.w, "\n")
}

func (t *table) flush() error {
	if err := t.w.Flush(); err != nil {
		return err
	}
	out := make([]byte, 0, t.buf.Len())
	for line := range bytes.Lines(t.buf.Bytes()) {
		out = append(out, bytes.TrimRight(line, " \n")...)
		out = append(out, '\n')
	}
	t.buf.Reset()
	_, err := t.out.Write(out)
	return err
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// int32List formats broker ids as "1,2,3".
func int32List(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}

// isTerminal reports whether w is a terminal (false for buffers and pipes).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// sortByTopicPartition sorts s by topic, then partition.
func sortByTopicPartition[T any](s []T, key func(T) (string, int32)) {
	slices.SortFunc(s, func(a, b T) int {
		at, ap := key(a)
		bt, bp := key(b)
		if c := strings.Compare(at, bt); c != 0 {
			return c
		}
		return cmp.Compare(ap, bp)
	})
}

// parseKeyValues parses repeated key=value flags; flag names the flag in errors.
func parseKeyValues(flag string, kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// adminRunE is the RunE of a command that talks to the cluster through an
// admin client: it reads the output format, opens the client, runs body,
// and closes the client.
func adminRunE(g *globalFlags, body func(cmd *cobra.Command, a *admin, asJSON bool, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		asJSON, err := g.json()
		if err != nil {
			return err
		}
		a, err := g.newAdmin(cmd)
		if err != nil {
			return err
		}
		defer a.Close()
		return body(cmd, a, asJSON, args)
	}
}
