package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheckReady(t *testing.T) {
	var notReady atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if notReady.Load() {
			http.Error(w, "cluster: not ready: broker 2 not registered\n(state fenced)", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := checkReady(t.Context(), addr); err != nil {
		t.Fatalf("ready broker: %v", err)
	}
	notReady.Store(true)
	err := checkReady(t.Context(), addr)
	if err == nil || !strings.Contains(err.Error(), "broker 2 not registered (state fenced)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unready broker: %q, want the reason on one line", err)
	}
	srv.Close()
	if err := checkReady(t.Context(), addr); err == nil || strings.Contains(err.Error(), "GET") {
		t.Fatalf("stopped broker: %q, want a dial error without the URL", err)
	}
}
