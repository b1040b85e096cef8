package main

// Record templates: how `consume --format` prints a record and how
// `produce --format` splits its input into records.
//
// A template is literal text and verbs:
//
//	%k key      %v value     %T topic      %p partition    %o offset
//	%t timestamp (RFC 3339, milliseconds, UTC)    %d timestamp (unix milliseconds)
//	%h headers (k=v,k=v)     %% a percent sign
//
// and the escapes \n \t \r \\. produce accepts %k and %v only; each must be
// followed by literal text (the delimiter that ends it) and the template must
// end in literal text (the record terminator, usually \n).
//
// The json format, for both, is one JSON object per record: key and value are
// strings (null when absent), or key_base64 and value_base64 when they are not
// valid UTF-8.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// timestampLayout is the layout of %t and of json timestamps.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// token is one piece of a template: literal text, or a verb when verb != 0.
type token struct {
	verb byte
	lit  []byte
}

// parseTemplate parses a template whose verbs are among verbs.
func parseTemplate(s, verbs string) ([]token, error) {
	var toks []token
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			toks = append(toks, token{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\':
				lit = append(lit, '\\')
			default:
				return nil, fmt.Errorf("format %q: unknown escape \\%c (want \\n, \\t, \\r or \\\\)", s, s[i])
			}
		case c == '%' && i+1 < len(s):
			i++
			switch v := s[i]; {
			case v == '%':
				lit = append(lit, '%')
			case strings.IndexByte(verbs, v) >= 0:
				flush()
				toks = append(toks, token{verb: v})
			default:
				return nil, fmt.Errorf("format %q: unknown verb %%%c (want one of %s)", s, v, verbList(verbs))
			}
		case c == '%':
			return nil, fmt.Errorf("format %q: dangling %%", s)
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return toks, nil
}

func verbList(verbs string) string {
	parts := make([]string, len(verbs))
	for i := range verbs {
		parts[i] = "%" + verbs[i:i+1]
	}
	return strings.Join(parts, " ")
}

// recordWriter prints records as a template or as JSON lines.
type recordWriter struct {
	w    *bufio.Writer
	toks []token // nil for JSON
	scr  []byte  // scratch for numbers
}

// newRecordWriter returns a writer for format: text (the value and a newline),
// json, or a template.
func newRecordWriter(w io.Writer, format string) (*recordWriter, error) {
	rw := &recordWriter{w: bufio.NewWriter(w)}
	switch format {
	case "json":
		return rw, nil
	case "text", "":
		format = `%v\n`
	}
	toks, err := parseTemplate(format, "kvTpotdh")
	if err != nil {
		return nil, err
	}
	rw.toks = toks
	return rw, nil
}

// write prints r; flush makes it visible.
func (rw *recordWriter) write(r *kgo.Record) error {
	if rw.toks == nil {
		b, err := json.Marshal(newJSONRecord(r))
		if err != nil {
			return err
		}
		rw.w.Write(b)
		return rw.w.WriteByte('\n')
	}
	for _, t := range rw.toks {
		switch t.verb {
		case 0:
			rw.w.Write(t.lit)
		case 'k':
			rw.w.Write(r.Key)
		case 'v':
			rw.w.Write(r.Value)
		case 'T':
			rw.w.WriteString(r.Topic)
		case 'p':
			rw.w.Write(strconv.AppendInt(rw.scr[:0], int64(r.Partition), 10))
		case 'o':
			rw.w.Write(strconv.AppendInt(rw.scr[:0], r.Offset, 10))
		case 'd':
			rw.w.Write(strconv.AppendInt(rw.scr[:0], r.Timestamp.UnixMilli(), 10))
		case 't':
			rw.w.Write(r.Timestamp.UTC().AppendFormat(rw.scr[:0], timestampLayout))
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					rw.w.WriteByte(',')
				}
				rw.w.WriteString(h.Key)
				rw.w.WriteByte('=')
				rw.w.Write(h.Value)
			}
		}
	}
	return nil
}

func (rw *recordWriter) flush() error { return rw.w.Flush() }

// jsonRecord is a record in the json format of consume and produce. produce
// reads key, value and headers only.
type jsonRecord struct {
	Topic       string       `json:"topic,omitempty"`
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Key         *string      `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	Value       *string      `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	Headers     []jsonHeader `json:"headers,omitempty"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func newJSONRecord(r *kgo.Record) jsonRecord {
	j := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(timestampLayout),
	}
	j.Key, j.KeyBase64 = jsonBytes(r.Key)
	j.Value, j.ValueBase64 = jsonBytes(r.Value)
	for _, h := range r.Headers {
		j.Headers = append(j.Headers, jsonHeader{h.Key, string(h.Value)})
	}
	return j
}

// jsonBytes returns b as a string, or as base64 when it is not UTF-8; nil for nil.
func jsonBytes(b []byte) (*string, string) {
	switch {
	case b == nil:
		return nil, ""
	case utf8.Valid(b):
		s := string(b)
		return &s, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}

// fromJSONBytes inverts jsonBytes; field names the field in errors.
func fromJSONBytes(s *string, b64, field string) ([]byte, error) {
	switch {
	case b64 != "":
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%s_base64: %w", field, err)
		}
		return b, nil
	case s != nil:
		return []byte(*s), nil
	}
	return nil, nil
}

// errRecordTooLong is returned by recordReader for a field longer than its bound.
var errRecordTooLong = errors.New("record longer than --max-record-bytes")

// recordReader reads records from produce's input, by template or as JSON.
type recordReader struct {
	r        *bufio.Reader
	dec      *json.Decoder // non-nil for the json format
	toks     []token
	maxBytes int // bound on one key or value
}

// newRecordReader returns a reader of format (text: one value per line, json,
// or a template of %k and %v).
func newRecordReader(r io.Reader, format string, maxBytes int) (*recordReader, error) {
	rr := &recordReader{r: bufio.NewReader(r), maxBytes: maxBytes}
	switch format {
	case "json":
		rr.dec = json.NewDecoder(rr.r)
		return rr, nil
	case "text", "":
		format = `%v\n`
	}
	toks, err := parseTemplate(format, "kv")
	if err != nil {
		return nil, err
	}
	hasValue := false
	for i, t := range toks {
		hasValue = hasValue || t.verb == 'v'
		if t.verb != 0 && (i+1 == len(toks) || toks[i+1].verb != 0) {
			return nil, fmt.Errorf("format %q: %%%c must be followed by a delimiter", format, t.verb)
		}
	}
	if !hasValue {
		return nil, fmt.Errorf("format %q: needs %%v", format)
	}
	rr.toks = toks
	return rr, nil
}

// next returns the next record's key, value and headers (json only); io.EOF at
// the end of the input. The slices are the caller's.
func (rr *recordReader) next() (key, value []byte, headers []kgo.RecordHeader, err error) {
	if rr.dec != nil {
		var j jsonRecord
		if err := rr.dec.Decode(&j); err != nil {
			if err == io.EOF {
				return nil, nil, nil, io.EOF
			}
			return nil, nil, nil, fmt.Errorf("json input: %w", err)
		}
		if key, err = fromJSONBytes(j.Key, j.KeyBase64, "key"); err != nil {
			return nil, nil, nil, err
		}
		if value, err = fromJSONBytes(j.Value, j.ValueBase64, "value"); err != nil {
			return nil, nil, nil, err
		}
		for _, h := range j.Headers {
			headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		return key, value, headers, nil
	}
	for i := 0; i < len(rr.toks); i++ {
		t := rr.toks[i]
		if t.verb == 0 {
			if i == 0 {
				if _, err := rr.r.Peek(1); err == io.EOF {
					return nil, nil, nil, io.EOF
				}
			}
			got := make([]byte, len(t.lit))
			if _, err := io.ReadFull(rr.r, got); err != nil || !bytes.Equal(got, t.lit) {
				return nil, nil, nil, fmt.Errorf("input does not match --format: want %q", t.lit)
			}
			continue
		}
		// A verb is always followed by its delimiter, which readUntil consumes.
		delim := rr.toks[i+1].lit
		field, err := rr.readUntil(delim)
		switch {
		case err == io.EOF && len(field) == 0 && i == 0:
			return nil, nil, nil, io.EOF
		case err == io.EOF && i+2 == len(rr.toks):
			err = nil // the last record may lack its terminator
		case err == io.EOF:
			err = fmt.Errorf("input ends inside a record: want %q", delim)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if t.verb == 'k' {
			key = field
		} else {
			value = field
		}
		i++
	}
	return key, value, nil, nil
}

// readUntil reads through delim and returns what came before it. At the end of
// the input it returns what it read and io.EOF.
func (rr *recordReader) readUntil(delim []byte) ([]byte, error) {
	last := delim[len(delim)-1]
	var buf []byte
	for {
		chunk, err := rr.r.ReadSlice(last)
		buf = append(buf, chunk...)
		if len(buf) > rr.maxBytes+len(delim) {
			return nil, errRecordTooLong
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return buf, err
		case bytes.HasSuffix(buf, delim):
			return buf[:len(buf)-len(delim)], nil
		}
	}
}
