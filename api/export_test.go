package api

import "time"

// SetCategoryCheckTime sets how long an empty answer's category check may
// take (categoryCheckTime) until the test ends, when restore puts it back.
func SetCategoryCheckTime(d time.Duration) (restore func()) {
	was := categoryCheckTime
	categoryCheckTime = d
	return func() { categoryCheckTime = was }
}
