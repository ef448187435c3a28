package runtime

import (
	"fmt"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kgo"
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

// kgoLogger hands franz-go's warnings and errors to logrus (its info and debug lines would
// flood the log: they cover every connection and metadata refresh). franz-go's messages name
// brokers, topics and errors, never credentials.
type kgoLogger struct {
	client string
}

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	e := logrus.WithField("client", l.client)
	for i := 0; i+1 < len(keyvals); i += 2 {
		if k, ok := keyvals[i].(string); ok {
			e = e.WithField("kafka_"+k, keyvals[i+1])
		}
	}
	if level == kgo.LogLevelError {
		e.Error(msg)
		return
	}
	e.Warn(msg)
}
