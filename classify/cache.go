package classify

import (
	"container/list"
	"strings"
	"sync"
)

// lru is a least-recently-used cache from SQL text to its statements, safe for concurrent
// use. The statements it holds are never handed out: callers get copies.
type lru struct {
	mu    sync.Mutex
	size  int
	order *list.List               // front = most recently used; values are *entry
	items map[string]*list.Element // text → element of order
}

type entry struct {
	key string
	sts []Statement
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: make(map[string]*list.Element, min(size, 1024))}
}

func (c *lru) get(key string) ([]Statement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).sts, true
}

func (c *lru) add(key string, sts []Statement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value.(*entry).sts = sts
		c.order.MoveToFront(el)
		return
	}
	key = strings.Clone(key) // not a slice of a larger buffer the cache would keep alive
	c.items[key] = c.order.PushFront(&entry{key: key, sts: sts})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*entry).key)
	}
}
