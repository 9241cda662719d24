package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"

	"github.com/wstap/wstap/certs"
)

func Example() {
	dir, err := os.MkdirTemp("", "wstap-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ca, created, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created)

	// The proxy's TLS configuration for a connection to 127.0.0.1:8443:
	// the client's SNI if it sends one, else the CONNECT host.
	_ = &tls.Config{GetCertificate: ca.GetCertificateFor("127.0.0.1:8443")}

	leaf, err := ca.Leaf("example.test")
	if err != nil {
		log.Fatal(err)
	}
	_, err = leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "example.test"})
	fmt.Println("verifies:", err == nil)
	// Output:
	// created: true
	// verifies: true
}
