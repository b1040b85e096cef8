package netns

import (
	"errors"
	"fmt"
	"time"
)

// Limits on a cluster's size: node IDs are 1..MaxNodeID, and the first
// MaxInitialNodes are started by Start.
const (
	MaxInitialNodes = 9
	MaxNodeID       = 99
)

// Config describes a Cluster.
type Config struct {
	// Binary is the path of the cairn binary. Required.
	Binary string
	// Dir holds every node's data directory (Dir/nodeID) and log
	// (Dir/nodeID.log). Required; created when missing.
	Dir string
	// Nodes is how many brokers Start runs, with IDs 1..Nodes. Default 3.
	Nodes int
	// Subnet is X in 10.77.X.0/24. Zero picks the first free X in
	// AutoSubnetMin..AutoSubnetMax. Two live clusters never share one: Start
	// returns ErrSubnetInUse.
	Subnet byte
	// LogLevel is the brokers' --log-level. Default "info".
	LogLevel string
	// Logf, when set, receives one line per harness action (processes
	// started and signalled, faults applied). Default: discarded.
	Logf func(format string, args ...any)
	// ReadyTimeout bounds Start's and AddNode's wait for readiness, and the
	// wait for a SIGTERM'd broker to exit before it is killed. Default 60 s.
	ReadyTimeout time.Duration
}

// The range Config.Subnet zero picks from.
const (
	AutoSubnetMin = 200
	AutoSubnetMax = 249
)

// Validate reports what is wrong with c, after defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("Binary is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir is required"))
	}
	if c.Nodes < 1 || c.Nodes > MaxInitialNodes {
		errs = append(errs, fmt.Errorf("Nodes %d: want 1..%d", c.Nodes, MaxInitialNodes))
	}
	if c.Subnet == 255 {
		errs = append(errs, fmt.Errorf("Subnet %d: want 1..254, or 0 to pick one", c.Subnet))
	}
	if c.ReadyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ReadyTimeout %v: want > 0", c.ReadyTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netns: config: %w", err)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 60 * time.Second
	}
}
