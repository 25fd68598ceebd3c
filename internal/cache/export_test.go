package cache

// WaitBackground waits for the background refreshes started so far, so a
// test can look at what they stored without sleeping.
func (c *Cache) WaitBackground() { c.bg.Wait() }
