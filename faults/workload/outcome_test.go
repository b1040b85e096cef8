package workload

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/history"
)

func TestSendOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want history.Outcome
	}{
		{nil, history.OK},
		{kgo.ErrRecordTimeout, history.Unknown},
		{fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, kerr.NotLeaderForPartition), history.Unknown},
		{kgo.ErrRecordRetries, history.Unknown},
		{kgo.ErrClientClosed, history.Unknown},
		{kgo.ErrAborting, history.Unknown},
		{context.Canceled, history.Unknown},
		{kerr.RequestTimedOut, history.Unknown},
		{kerr.NotEnoughReplicasAfterAppend, history.Unknown},
		{kerr.OutOfOrderSequenceNumber, history.Unknown},
		{kerr.UnknownServerError, history.Unknown},
		{errors.New("connection reset"), history.Unknown},
		{kgo.ErrMaxBuffered, history.Fail},
		{kerr.MessageTooLarge, history.Fail},
		{kerr.CorruptMessage, history.Fail},
		{kerr.InvalidRecord, history.Fail},
		{kerr.TopicAuthorizationFailed, history.Fail},
	} {
		if got := sendOutcome(tc.err); got != tc.want {
			t.Errorf("sendOutcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestCommitOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int16
		want history.Outcome
	}{
		{nil, 0, history.OK},
		{errors.New("i/o timeout"), 0, history.Unknown},
		{nil, kerr.NotCoordinator.Code, history.Unknown},
		{nil, kerr.CoordinatorNotAvailable.Code, history.Unknown},
		{nil, kerr.RequestTimedOut.Code, history.Unknown},
		{nil, kerr.UnknownServerError.Code, history.Unknown},
		// A retry's refusal by a new coordinator may follow an attempt
		// the old one stored.
		{nil, kerr.IllegalGeneration.Code, history.Unknown},
		{nil, kerr.UnknownMemberID.Code, history.Unknown},
		{nil, kerr.RebalanceInProgress.Code, history.Unknown},
		{nil, kerr.OffsetMetadataTooLarge.Code, history.Fail},
	} {
		if got := commitOutcome(tc.err, tc.code); got != tc.want {
			t.Errorf("commitOutcome(%v, %d) = %s, want %s", tc.err, tc.code, got, tc.want)
		}
	}
}

func TestProducerFatal(t *testing.T) {
	if !producerFatal(fmt.Errorf("wrapped: %w", kerr.OutOfOrderSequenceNumber)) {
		t.Error("OUT_OF_ORDER_SEQUENCE_NUMBER is not fatal")
	}
	if producerFatal(kgo.ErrRecordTimeout) || producerFatal(nil) {
		t.Error("a timeout is fatal")
	}
}

func TestLimiterSpacesEvents(t *testing.T) {
	const perSecond, n = 200, 21
	l := newLimiter(perSecond)
	start := time.Now()
	for range n {
		if err := l.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// n events take at least n-1 intervals; no upper bound on a shared
	// machine.
	if got, want := time.Since(start), (n-1)*time.Second/perSecond; got < want {
		t.Errorf("%d events at %d/s took %v, want at least %v", n, perSecond, got, want)
	}
}
