package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestGRPCThroughProxy runs a real gRPC server (the standard health
// service) behind Portico over h2c and calls it through the proxy: a unary
// call, an error status (carried in trailers) and a server stream.
func TestGRPCThroughProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("portico.test", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()

	_, url, _ := testInstance(t, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
upstreams:
  grpc:
    backends: ["http://%s"]
    protocol: h2c
routes:
  - match: /
    proxy: grpc
`, ln.Addr()))
	conn, err := grpc.NewClient(url[len("http://"):], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var trailer metadata.MD
	res, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "portico.test"}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("unary call through proxy: %v", err)
	}
	if res.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("got status %v, want SERVING", res.Status)
	}

	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: got %v, want NotFound carried in trailers", err)
	}

	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "portico.test"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("stream first message: %v %v", first, err)
	}
	hs.SetServingStatus("portico.test", healthpb.HealthCheckResponse_NOT_SERVING)
	second, err := stream.Recv()
	if err != nil || second.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("stream second message: %v %v", second, err)
	}
}
