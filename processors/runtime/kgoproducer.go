package runtime

import (
	"context"
	"hash"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoProducer is Goka's producer on franz-go's client instead of Sarama's async producer:
// Sarama hands every record through a chain of goroutines and channels, and with idempotence
// allows one request in flight per broker; franz-go batches per partition without a goroutine
// per hop and keeps idempotent, ordered produce requests in flight (five per broker).
type kgoProducer struct {
	cl *kgo.Client
}

// Timeouts of the producers, variables so that tests can shorten them.
var (
	// deliveryTimeout is how long a record may keep failing to be written (brokers gone, a
	// leader moving) before its promise fails, once its current retry backoff is over, and
	// the processor with it, to be restarted by Supervise: long enough to ride out a leader
	// election without a rebalance, short enough that an outage shows and that a callback
	// waiting for room in a full buffer is freed.
	deliveryTimeout = 30 * time.Second
	// closeTimeout bounds how long Close waits for buffered records when the brokers are gone.
	closeTimeout = 10 * time.Second
)

const (
	// maxFlushFrequency is the longest linger franz-go accepts.
	maxFlushFrequency = time.Minute
	// maxBatchBytes is the largest batch franz-go writes with its default request limit: a
	// cluster allowing larger records still gets batches of this size (and records up to
	// maxBufferedBytes, see WithRecordLimit).
	maxBatchBytes = 100 << 20
	// maxBufferedBytes bounds what a producer holds while the brokers are slow or gone; a
	// callback producing past it waits (the processor slows down) for up to deliveryTimeout.
	// franz-go refuses a record larger than it at once.
	maxBufferedBytes = 64 << 20
)

// ProducerBuilder builds the processors' and emitters' producers: records placed by Goka's
// partitioner (GokaPartitioner, on Goka's default hasher, which this product never changes),
// no compression, a linger of FlushFrequency, and per partition in order: idempotent with
// acks from all in-sync replicas where AcksAll, otherwise one request in flight per broker,
// so that a retried batch cannot overtake the next.
func (o Options) ProducerBuilder() goka.ProducerBuilder {
	return func(brokers []string, clientID string, _ func() hash.Hash32) (goka.Producer, error) {
		opts := append(o.KafkaClientOpts(brokers...),
			kgo.ClientID(clientID),
			kgo.WithLogger(kgoLogger{client: clientID}),
			kgo.ProducerLinger(min(o.FlushFrequency, maxFlushFrequency)),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.MaxBufferedRecords(1<<16),
			kgo.MaxBufferedBytes(maxBufferedBytes),
			kgo.RecordDeliveryTimeout(deliveryTimeout),
		)
		if o.AcksAll {
			// An idempotent producer never fails a record it may have sent unless allowed to:
			// without this, an outage would stall the processors for good instead of failing
			// them. A record failed so may have been written; the restarted processor writes
			// it again, and its consumers already take redeliveries.
			opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowIdempotentProduceCancellation())
		} else {
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
				kgo.MaxProduceRequestsInflightPerBroker(1))
		}
		if o.MaxRecordBytes > 0 {
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(min(o.MaxRecordBytes, maxBatchBytes))))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		return &kgoProducer{cl: cl}, nil
	}
}

func (p *kgoProducer) Emit(topic string, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

func (p *kgoProducer) EmitWithHeaders(topic string, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, 0, len(headers))
		for k, v := range headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
	}
	p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		// Goka reads the offset of a table write to store it with the row.
		finish(&sarama.ProducerMessage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, err)
	})
	return promise
}

// Close sends what is buffered (for up to closeTimeout) and closes the client.
func (p *kgoProducer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	return err
}
