package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// stubHandler answers Metadata from the Broker API alone: what the Kafka
// layer will do, in miniature.
type stubHandler struct{ b *Broker }

func (h stubHandler) Versions() map[int16]wire.VersionRange {
	return map[int16]wire.VersionRange{3: {Min: 0, Max: 12}}
}

func (h stubHandler) Serve(ctx context.Context, req *wire.Request) wire.Reply {
	r, ok := req.Body.(*kmsg.MetadataRequest)
	if !ok {
		return wire.CloseConn(errors.New("unexpected request"))
	}
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.ControllerID = h.b.ControllerID()
	id := h.b.ClusterID()
	resp.ClusterID = &id
	for _, bi := range h.b.Brokers() {
		resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: bi.ID, Host: bi.Host, Port: bi.Port})
	}
	return wire.Respond(resp)
}

// TestKafkaHandlerHook starts a broker with a Kafka handler and asks it for
// metadata with a real client.
func TestKafkaHandlerHook(t *testing.T) {
	c := &testCluster{t: t, root: t.TempDir(), brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}}
	t.Cleanup(c.closeAll)
	cfg := c.config(1)
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.KafkaHandler = func(b *Broker) wire.Handler { return stubHandler{b} }
	b := c.start(cfg)
	c.waitReady(1, 20*time.Second)
	if b.KafkaAddr() == "127.0.0.1:0" {
		t.Fatal("advertised Kafka address kept port 0")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.ControllerID != 1 || resp.ClusterID == nil || *resp.ClusterID != b.ClusterID() {
		t.Fatalf("metadata: %+v", resp)
	}
}
