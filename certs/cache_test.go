package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fakeLeaf(notAfter time.Time) *tls.Certificate {
	return &tls.Certificate{Leaf: &x509.Certificate{NotAfter: notAfter}}
}

func TestCacheSingleFlight(t *testing.T) {
	c := newLeafCache(10)
	const waiters = 5
	waiting := make(chan struct{}, waiters)
	c.onWait = func() { waiting <- struct{}{} }
	release := make(chan struct{})
	started := make(chan struct{})
	var calls atomic.Int32
	now := time.Now()
	want := fakeLeaf(now.Add(24 * time.Hour))
	issue := func() (*tls.Certificate, error) {
		calls.Add(1)
		close(started)
		<-release
		return want, nil
	}

	var wg sync.WaitGroup
	var got [waiters + 1]*tls.Certificate
	wg.Go(func() { got[0], _ = c.get(context.Background(), "h", now, issue) })
	<-started
	for i := 1; i <= waiters; i++ {
		wg.Go(func() { got[i], _ = c.get(context.Background(), "h", now, issue) })
	}
	for range waiters {
		<-waiting
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("issue called %d times, want 1", n)
	}
	for i, g := range got {
		if g != want {
			t.Errorf("request %d got %p, want the one issued %p", i, g, want)
		}
	}
}

func TestCacheFailureNotCached(t *testing.T) {
	c := newLeafCache(10)
	now := time.Now()
	boom := errors.New("boom")
	if _, err := c.get(context.Background(), "h", now, func() (*tls.Certificate, error) { return nil, boom }); err != boom {
		t.Fatalf("get = %v, want %v", err, boom)
	}
	if n := c.len(); n != 0 {
		t.Errorf("cache holds %d entries after a failure, want 0", n)
	}
	want := fakeLeaf(now.Add(24 * time.Hour))
	if got, err := c.get(context.Background(), "h", now, func() (*tls.Certificate, error) { return want, nil }); got != want || err != nil {
		t.Errorf("get after a failure = %p, %v; want a new issuance", got, err)
	}
}

func TestCacheWaiterContext(t *testing.T) {
	c := newLeafCache(10)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }
	release, started := make(chan struct{}), make(chan struct{})
	now := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		c.get(context.Background(), "h", now, func() (*tls.Certificate, error) {
			close(started)
			<-release
			return fakeLeaf(now.Add(24 * time.Hour)), nil
		})
	})
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	wg.Go(func() {
		_, err := c.get(ctx, "h", now, nil)
		done <- err
	})
	<-waiting
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting get after cancel = %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
}

func TestCachePanicReleasesWaiters(t *testing.T) {
	c := newLeafCache(10)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }
	release, started := make(chan struct{}), make(chan struct{})
	now := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { recover() }()
		c.get(context.Background(), "h", now, func() (*tls.Certificate, error) {
			close(started)
			<-release
			panic("boom")
		})
	})
	<-started
	done := make(chan error, 1)
	wg.Go(func() {
		_, err := c.get(context.Background(), "h", now, nil)
		done <- err
	})
	<-waiting
	close(release)
	if err := <-done; !errors.Is(err, errIssuePanicked) {
		t.Errorf("waiter of a panicked issuance got %v, want errIssuePanicked", err)
	}
	wg.Wait()
	if n := c.len(); n != 0 {
		t.Errorf("cache holds %d entries after a panic, want 0", n)
	}
}
