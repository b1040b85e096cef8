package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClientProduceConsume(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "events", "-p", "1")

	r := mustRun(t, brokers, "a\nb\nc\n", "produce", "events", "-v")
	if r.stdout != "partition=0 offset=0\npartition=0 offset=1\npartition=0 offset=2\n" {
		t.Fatalf("produce -v printed\n%s", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "produced 3 records to events in ") {
		t.Fatalf("produce summary: %q", r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"from start, num", []string{"-n", "3"}, "a\nb\nc\n"},
		{"num stops early", []string{"-n", "2"}, "a\nb\n"},
		{"range", []string{"-o", "1:3"}, "b\nc\n"},
		{"range to end", []string{"-o", ":end"}, "a\nb\nc\n"},
		{"empty range", []string{"-o", "1:1"}, ""},
		{"last one", []string{"-o", "-1:end"}, "c\n"},
		{"after start", []string{"-o", "+2:end"}, "c\n"},
		{"by time", []string{"-o", "@-1h:end"}, "a\nb\nc\n"},
		{"before a future time", []string{"-o", "start:@" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "a\nb\nc\n"},
		{"from a future time", []string{"-o", "@" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + ":end"}, ""},
		{"template", []string{"-o", ":end", "--format", `%T/%p@%o %v|`}, "events/0@0 a|events/0@1 b|events/0@2 c|"},
		{"exact offset unbounded", []string{"-o", "2", "-n", "1"}, "c\n"},
		{"partitions", []string{"-p", "0", "-n", "1"}, "a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, brokers, "", append([]string{"consume", "events"}, tc.args...)...)
			if r.stdout != tc.want {
				t.Fatalf("consume %v printed %q, want %q", tc.args, r.stdout, tc.want)
			}
		})
	}

	// A bounded replay to a pipe (not a terminal) reports progress on stderr.
	r = mustRun(t, brokers, "", "consume", "events", "-o", "0:2")
	if !strings.HasPrefix(r.stderr, "consumed 2 records in ") {
		t.Fatalf("bounded consume stderr: %q", r.stderr)
	}

	r = mustRun(t, brokers, "", "consume", "events", "-o", ":end", "--format", "json")
	var recs []jsonRecord
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var j jsonRecord
		decodeJSON(t, sc.Text(), &j)
		recs = append(recs, j)
	}
	if len(recs) != 3 || *recs[2].Value != "c" || recs[2].Offset != 2 || recs[2].Topic != "events" || recs[2].Key != nil {
		t.Fatalf("consume --format json: %s", r.stdout)
	}
	if _, err := time.Parse(time.RFC3339, recs[0].Timestamp); err != nil {
		t.Fatalf("json timestamp %q: %v", recs[0].Timestamp, err)
	}
}

func TestClientProduceKeysHeadersAndJSON(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "kv", "-p", "2")
	mustRun(t, brokers, "", "topic", "create", "copy", "-p", "2")

	mustRun(t, brokers, "k1 v one\nk2 v two\n", "produce", "kv", "--format", `%k %v\n`, "-H", "src=test", "-H", "n=1", "-p", "1")
	r := mustRun(t, brokers, "", "consume", "kv", "-o", ":end", "--format", `%p %k=%v [%h]\n`)
	if r.stdout != "1 k1=v one [src=test,n=1]\n1 k2=v two [src=test,n=1]\n" {
		t.Fatalf("keys and headers round trip:\n%s", r.stdout)
	}
	mustRun(t, brokers, "x\n", "produce", "kv", "--key", "fixed", "-p", "0")
	r = mustRun(t, brokers, "", "consume", "kv", "-p", "0", "-o", ":end", "--format", `%k=%v\n`)
	if r.stdout != "fixed=x\n" {
		t.Fatalf("--key: %q", r.stdout)
	}
	mustFail(t, brokers, "no-delimiter-here\n", "input record 1: input ends inside a record", "produce", "kv", "--format", `%k %v\n`)

	// consume --format json | produce --format json copies records, keys,
	// headers and binary values.
	mustRun(t, brokers, "", "produce", "kv", "--format", "json", "-p", "0")
	bin := `{"key_base64":"AP8=","value_base64":"/wA="}` + "\n"
	mustRun(t, brokers, bin, "produce", "kv", "--format", "json", "-p", "0")
	dump := mustRun(t, brokers, "", "consume", "kv", "-o", ":end", "--format", "json").stdout
	mustRun(t, brokers, dump, "produce", "copy", "--format", "json")
	orig := mustRun(t, brokers, "", "consume", "kv", "-o", ":end", "--format", `%k=%v %h\n`).stdout
	copied := mustRun(t, brokers, "", "consume", "copy", "-o", ":end", "--format", `%k=%v %h\n`).stdout
	if len(orig) == 0 || sortedLines(orig) != sortedLines(copied) {
		t.Fatalf("json copy differs:\n%s\nvs\n%s", orig, copied)
	}
	if !strings.Contains(copied, "\x00\xff=\xff\x00") {
		t.Fatalf("binary key/value lost in the json round trip: %q", copied)
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestClientProduceCodecsAndAcks(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "c", "-p", "1")
	var want strings.Builder
	n := 0
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		for _, acks := range []string{"-1", "1", "0"} {
			line := fmt.Sprintf("%s acks=%s %s\n", codec, acks, strings.Repeat("x", 200))
			want.WriteString(line)
			n++
			mustRun(t, brokers, line, "produce", "c", "--compression", codec, "--acks", acks)
		}
	}
	// An acks=0 produce returns before the broker has appended the record, so
	// the next run's record, on another connection, may land first: compare
	// the records, not their order.
	r := mustRun(t, brokers, "", "consume", "c", "-n", fmt.Sprint(n))
	if sortedLines(r.stdout) != sortedLines(want.String()) {
		t.Fatalf("records read back differ:\n%s\nwant\n%s", r.stdout, want.String())
	}
}

func TestClientConsumeInterrupt(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "live", "-p", "1")
	mustRun(t, brokers, "1\n2\n", "produce", "live")

	// An unbounded group consume runs until Ctrl-C (here, the context is
	// cancelled once two records are out), exits cleanly, and commits what it
	// printed.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stdout := &syncBuffer{onWrite: func(s string) {
		if strings.Count(s, "\n") >= 2 {
			cancel()
		}
	}}
	var stderr syncBuffer
	err := runCLIWith(ctx, brokers, strings.NewReader(""), stdout, &stderr, "consume", "live", "--group", "g")
	if err != nil {
		t.Fatalf("consume after Ctrl-C returned %v", err)
	}
	if stdout.String() != "1\n2\n" {
		t.Fatalf("printed %q", stdout.String())
	}
	var descs []groupDescription
	decodeJSON(t, mustRun(t, brokers, "", "group", "describe", "g", "--format", "json").stdout, &descs)
	if p := descs[0].Partitions; len(p) != 1 || p[0].Committed != 2 || p[0].Lag != 0 {
		t.Fatalf("commits after Ctrl-C: %+v", p)
	}
}

func TestRecordReader(t *testing.T) {
	for _, tc := range []struct {
		format, in string
		want       []string // key=value; "<nil>" for a null key
	}{
		{"text", "a\nb\n", []string{"<nil>=a", "<nil>=b"}},
		{"text", "a\nb", []string{"<nil>=a", "<nil>=b"}},
		{"text", "a\n\nb\n", []string{"<nil>=a", "<nil>=", "<nil>=b"}},
		{`%k\t%v\n`, "k1\tv1\nk2\tv\t2\n", []string{"k1=v1", "k2=v\t2"}},
		{`%k::%v;;`, "a::b;;c::d;;", []string{"a=b", "c=d"}},
		{`<%k>%v\n`, "<a>b\n<c>d\n", []string{"a=b", "c=d"}},
		{`%v|%k\n`, "v|k\n", []string{"k=v"}},
		{"text", "", nil},
	} {
		rr, err := newRecordReader(strings.NewReader(tc.in), tc.format, 100)
		if err != nil {
			t.Fatalf("format %q: %v", tc.format, err)
		}
		var got []string
		for {
			k, v, _, err := rr.next()
			if err != nil {
				break
			}
			ks := string(k)
			if k == nil {
				ks = "<nil>"
			}
			got = append(got, ks+"="+string(v))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("format %q on %q: %q, want %q", tc.format, tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ format, want string }{
		{`%k%v\n`, "%k must be followed by a delimiter"},
		{`%k %v`, "%v must be followed by a delimiter"},
		{`%k\n`, "needs %v"},
		{`%v\q`, `unknown escape \q`},
		{`%o %v\n`, "unknown verb %o (want one of %k %v)"},
		{`%v\n%`, "dangling %"},
	} {
		_, err := newRecordReader(strings.NewReader(""), tc.format, 100)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("format %q: error %v, want %q", tc.format, err, tc.want)
		}
	}
	rr, _ := newRecordReader(strings.NewReader(strings.Repeat("x", 300)+"\n"), "text", 100)
	if _, _, _, err := rr.next(); err != errRecordTooLong {
		t.Errorf("a 300-byte value with a bound of 100: %v", err)
	}
	rr, _ = newRecordReader(strings.NewReader(`{"value": 3}`), "json", 100)
	if _, _, _, err := rr.next(); err == nil || !strings.Contains(err.Error(), "json input") {
		t.Errorf("bad json: %v", err)
	}
	var j jsonRecord
	if err := json.Unmarshal([]byte(`{"key":null,"value":"v"}`), &j); err != nil || j.Key != nil {
		t.Fatalf("null key: %v %+v", err, j)
	}
}

func TestClientConsumeWaitsForRecords(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "tail", "-p", "1")
	mustRun(t, brokers, "a\nb\nc\n", "produce", "tail")

	// Offset 3 is the high watermark: an unbounded read from it, and a bounded
	// read whose end lies past it, wait for the next record.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		out string
		err error
	}
	run := func(args ...string) <-chan result {
		done := make(chan result, 1)
		go func() {
			var stdout, stderr syncBuffer
			err := runCLIWith(ctx, brokers, strings.NewReader(""), &stdout, &stderr, args...)
			done <- result{stdout.String(), err}
		}()
		return done
	}
	unbounded := run("consume", "tail", "-o", "3", "-n", "1")
	bounded := run("consume", "tail", "-o", "2:4")
	mustRun(t, brokers, "d\n", "produce", "tail")
	for name, done := range map[string]<-chan result{"-o 3 -n 1": unbounded, "-o 2:4": bounded} {
		want := map[string]string{"-o 3 -n 1": "d\n", "-o 2:4": "c\nd\n"}[name]
		select {
		case r := <-done:
			if r.err != nil || r.out != want {
				t.Errorf("consume %s: %q, %v; want %q", name, r.out, r.err, want)
			}
		case <-ctx.Done():
			t.Fatalf("consume %s did not see the new record", name)
		}
	}
}
