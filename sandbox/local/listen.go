package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// resolveTimeout bounds the name lookup of CheckListenAddr.
const resolveTimeout = 5 * time.Second

// CheckListenAddr reports an error unless every address the host of addr
// ("host:port") names is a loopback address: the local backend runs code
// without isolation, so it must not be reachable from other machines.
func CheckListenAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return refuse(addr, "it is not host:port")
	}
	if host == "" {
		return refuse(addr, "without a host it listens on every network interface")
	}
	ips, err := resolve(host)
	if err != nil {
		return refuse(addr, fmt.Sprintf("cannot resolve %s: %v", host, err))
	}
	for _, ip := range ips {
		if ip.IsUnspecified() {
			return refuse(addr, fmt.Sprintf("%s means every network interface", ip))
		}
		if !ip.IsLoopback() {
			return refuse(addr, fmt.Sprintf("%s is not a loopback address", ip))
		}
	}
	return nil
}

// resolve returns the addresses host names: itself when it is an IP address.
func resolve(host string) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no addresses")
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}

func refuse(addr, why string) error {
	return fmt.Errorf("local: will not listen on %q: %s; the local sandbox has no isolation; listen on 127.0.0.1 (for example 127.0.0.1:8080) or use --sandbox runc", addr, why)
}
