package runtime

import (
	"fmt"

	"github.com/sirupsen/logrus"
)

// gokaLogger sends Goka's own messages to logrus at debug level: Goka is chatty about routine
// rebalances and recoveries, and its errors reach us through Run's result anyway.
type gokaLogger struct {
	component string
}

func (l gokaLogger) Print(v ...interface{}) {
	logrus.WithField("component", l.component).Debug(fmt.Sprint(v...))
}

func (l gokaLogger) Println(v ...interface{}) { l.Print(v...) }

func (l gokaLogger) Printf(format string, v ...interface{}) {
	logrus.WithField("component", l.component).Debugf(format, v...)
}
