package server_test

import (
	"errors"
	"time"
)

var (
	timeZero time.Time
	sunset   = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }
