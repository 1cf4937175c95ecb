package runner

// SetShareScrubs turns the sharing of a batch's scrubs on or off for a
// test, and returns what restores it.
func SetShareScrubs(on bool) (restore func()) {
	was := shareScrubs
	shareScrubs = on
	return func() { shareScrubs = was }
}
