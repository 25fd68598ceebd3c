package listener

import (
	"context"
	"fmt"
	"net"
)

// listenConfig is how every listener socket is bound: alone, or shared
// with the other worker processes.
func listenConfig(reusePort bool) *net.ListenConfig {
	if reusePort {
		return &net.ListenConfig{Control: setReusePort}
	}
	return &net.ListenConfig{}
}

func listenTCP(addr string, reusePort bool) (net.Listener, error) {
	return listenConfig(reusePort).Listen(context.Background(), "tcp", addr)
}

func listenUDP(addr *net.UDPAddr, reusePort bool) (*net.UDPConn, error) {
	pc, err := listenConfig(reusePort).ListenPacket(context.Background(), "udp", addr.String())
	if err != nil {
		return nil, err
	}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("%s: not a UDP socket", addr)
	}
	return udp, nil
}
