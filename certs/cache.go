package certs

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"time"
)

// renewBefore is how long before its expiry a cached leaf is replaced.
const renewBefore = time.Hour

// leafCache holds issued leaves by host, least recently used first out, and
// makes concurrent requests for one host share a single issuance.
// Failures are handed to the requests waiting for them but not kept.
type leafCache struct {
	max int

	mu      sync.Mutex
	lru     list.List // of *cacheEntry, most recently used at the front
	entries map[string]*cacheEntry

	onWait func() // called when a request starts waiting for another's issuance; tests set it
}

// cacheEntry is one host's leaf, or its issuance in flight while done is open.
type cacheEntry struct {
	host string
	elem *list.Element
	done chan struct{} // closed when cert and err are set
	cert *tls.Certificate
	err  error
}

func newLeafCache(max int) *leafCache {
	return &leafCache{max: max, entries: make(map[string]*cacheEntry)}
}

// get returns host's leaf from the cache or from issue. A request that finds
// the issuance for its host in flight waits for it, or for ctx.
func (c *leafCache) get(ctx context.Context, host string, now time.Time, issue func() (*tls.Certificate, error)) (cert *tls.Certificate, err error) {
	c.mu.Lock()
	if e := c.entries[host]; e != nil {
		select {
		case <-e.done:
			if e.err == nil && now.Add(renewBefore).Before(e.cert.Leaf.NotAfter) {
				c.lru.MoveToFront(e.elem)
				c.mu.Unlock()
				return e.cert, nil
			}
			c.remove(e) // near its expiry: issue a new one below
		default:
			onWait := c.onWait
			c.mu.Unlock()
			if onWait != nil {
				onWait()
			}
			select {
			case <-e.done:
				return e.cert, e.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	e := &cacheEntry{host: host, done: make(chan struct{})}
	e.elem = c.lru.PushFront(e)
	c.entries[host] = e
	for c.lru.Len() > c.max {
		// An evicted entry still in flight completes for those waiting on
		// it; it is only no longer found.
		c.remove(c.lru.Back().Value.(*cacheEntry))
	}
	c.mu.Unlock()

	// Deferred, so that those waiting are released even if issue panics.
	defer func() {
		c.mu.Lock()
		if cert == nil && err == nil {
			err = errIssuePanicked
		}
		e.cert, e.err = cert, err
		close(e.done)
		if err != nil && c.entries[host] == e {
			c.remove(e)
		}
		c.mu.Unlock()
	}()
	return issue()
}

var errIssuePanicked = errors.New("certs: leaf issuance panicked")

// remove drops e from the cache. The caller holds c.mu.
func (c *leafCache) remove(e *cacheEntry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.host)
}

// len returns the number of entries, in flight or issued.
func (c *leafCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
