package cluster

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Kafka listeners, as Kafka's listeners and advertised.listeners: a broker
// serves Kafka on one or more named listeners (Config.Listeners), each
// advertised to clients at an address (Config.AdvertisedListeners). The
// broker registers every advertised address in the metadata
// (BrokerRecord.Listeners), and a client is told, for every broker, the
// address of the listener its request arrived on; a broker without that
// listener is left out (package kafka, brokersOn). A container typically has
// one listener for its network (INTERNAL://broker1:9092) and one published
// on the host (EXTERNAL://localhost:19092).
//
// Unlike Kafka, a listener missing from AdvertisedListeners is advertised at
// its bind address (with its bound port, and this machine's host name for a
// wildcard host), as the single listener of KafkaAddr always was, rather than
// not advertised at all. All listeners speak plaintext: there is no
// listener.security.protocol.map.

// DefaultListenerName names the listener of Config.KafkaAddr, as Kafka
// names the listener of listeners=PLAINTEXT://host:port. Brokers registered
// before named listeners existed have this one listener at KafkaAddr.
const DefaultListenerName = "PLAINTEXT"

// Endpoint is a named host:port: a listener's bind address in
// Config.Listeners, an advertised address in Config.AdvertisedListeners and
// in the metadata.
type Endpoint struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// String writes e as Kafka does: NAME://host:port.
func (e Endpoint) String() string { return e.Name + "://" + e.Addr }

// FormatEndpoints writes es as Kafka's listeners setting does:
// NAME://host:port, comma-separated (one string in a log line).
func FormatEndpoints(es []Endpoint) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// ParseEndpoints parses listeners written as Kafka writes them,
// NAME://host:port (an IPv6 host in brackets), one per element; an empty
// element is skipped. Names are case-insensitive and returned in upper case,
// as Kafka normalises them. Addresses are checked by Config.Validate.
func ParseEndpoints(list []string) ([]Endpoint, error) {
	var out []Endpoint
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, addr, ok := strings.Cut(s, "://")
		if !ok {
			return nil, fmt.Errorf("listener %q: want NAME://host:port", s)
		}
		out = append(out, Endpoint{Name: strings.ToUpper(name), Addr: addr})
	}
	return out, nil
}

// validListenerName reports whether name is upper-case letters, digits and
// underscores.
func validListenerName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// checkHostPort parses host:port with a numeric port in [0, 65535].
func checkHostPort(addr string) (host string, port int, err error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 0 to 65535", portStr)
	}
	return host, port, nil
}

// validateListeners reports what is wrong with c's listeners, before
// defaults are applied (so that a KafkaAddr given with Listeners is seen).
func (c Config) validateListeners() []error {
	var errs []error
	if len(c.Listeners) == 0 {
		if len(c.AdvertisedListeners) > 0 {
			errs = append(errs, fmt.Errorf("advertised listeners %v without listeners", c.AdvertisedListeners))
		}
		return errs
	}
	if c.KafkaAddr != "" || c.AdvertiseKafkaAddr != "" {
		errs = append(errs, fmt.Errorf("listeners replace the kafka address and the advertised kafka address: give one or the other"))
	}
	names := make([]string, 0, len(c.Listeners))
	ports := map[int]string{}
	for _, l := range c.Listeners {
		switch {
		case !validListenerName(l.Name):
			errs = append(errs, fmt.Errorf("listener %v: name %q: want upper-case letters, digits and _", l, l.Name))
		case slices.Contains(names, l.Name):
			errs = append(errs, fmt.Errorf("listener %s named twice", l.Name))
		}
		names = append(names, l.Name)
		_, port, err := checkHostPort(l.Addr)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("listener %v: %v", l, err))
		case port != 0 && ports[port] != "":
			errs = append(errs, fmt.Errorf("listeners %s and %s both bind port %d", ports[port], l.Name, port))
		case port != 0:
			ports[port] = l.Name
		}
	}
	var advertised []string
	for _, a := range c.AdvertisedListeners {
		switch {
		case !slices.Contains(names, a.Name):
			errs = append(errs, fmt.Errorf("advertised listener %v: no listener %s (listeners: %s)", a, a.Name, strings.Join(names, ", ")))
		case slices.Contains(advertised, a.Name):
			errs = append(errs, fmt.Errorf("advertised listener %s named twice", a.Name))
		}
		advertised = append(advertised, a.Name)
		if err := checkAdvertised(a.Addr); err != nil {
			errs = append(errs, fmt.Errorf("advertised listener %v: %v", a, err))
		}
	}
	return errs
}

// checkAdvertised checks an address given to clients: a host they can dial
// and a port.
func checkAdvertised(addr string) error {
	host, port, err := checkHostPort(addr)
	switch {
	case err != nil:
		return err
	case host == "":
		return fmt.Errorf("no host")
	case port == 0:
		return fmt.Errorf("port 0")
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s is not an address clients can dial", host)
	}
	return nil
}

// kafkaListener is a listener to bind: its name, bind address, and the
// address to advertise ("": derived from the bound one).
type kafkaListener struct {
	name, bind, advertise string
}

// kafkaListeners returns the listeners of a validated c with its defaults
// applied, in Config.Listeners order: with none, one DefaultListenerName
// listener on KafkaAddr advertised as AdvertiseKafkaAddr.
func (c Config) kafkaListeners() []kafkaListener {
	if len(c.Listeners) == 0 {
		return []kafkaListener{{name: DefaultListenerName, bind: c.KafkaAddr, advertise: c.AdvertiseKafkaAddr}}
	}
	out := make([]kafkaListener, len(c.Listeners))
	for i, l := range c.Listeners {
		out[i] = kafkaListener{name: l.Name, bind: l.Addr}
		if j := slices.IndexFunc(c.AdvertisedListeners, func(a Endpoint) bool { return a.Name == l.Name }); j >= 0 {
			out[i].advertise = c.AdvertisedListeners[j].Addr
		}
	}
	return out
}

// endpoints returns the broker's advertised addresses by listener name: its
// Listeners, or for a record written before named listeners, the one
// DefaultListenerName listener at KafkaAddr.
func (r BrokerRecord) endpoints() []Endpoint {
	if len(r.Listeners) > 0 {
		return r.Listeners
	}
	return []Endpoint{{Name: DefaultListenerName, Addr: r.KafkaAddr}}
}

// equal reports whether r and o hold the same values (BrokerRecord is not
// comparable: it has a slice).
func (r BrokerRecord) equal(o BrokerRecord) bool {
	return r.ID == o.ID && r.KafkaAddr == o.KafkaAddr && r.InternalAddr == o.InternalAddr && r.GossipAddr == o.GossipAddr &&
		r.Rack == o.Rack && r.State == o.State && slices.Equal(r.Listeners, o.Listeners)
}
