# Atlas Streams. `make run` starts everything on an embedded broker; `make test` runs the tests.
GO        ?= go
PKGS      := ./...
FUZZTIME  ?= 10s
BIN       := bin/atlas

.PHONY: all build run test unit fuzz lint vet fmt-check generate proto bench chaos helm-lint test-kafka clean

all: lint build test

build:
	$(GO) build -o $(BIN) ./cmd/atlas

# The whole product on an embedded Kafka-protocol broker, with the HTTP API.
run: build
	./$(BIN) dev

# Formatting, vet, and every Go test (unit, integration on kfake, the browser test, the fuzz
# seed corpora). Fuzzing proper (make fuzz) builds every package again with fuzzing
# instrumentation, two minutes on a cold cache: CI runs it as a step of its own.
test: lint unit

unit:
	$(GO) test -count=1 $(PKGS)

# Ten seconds each of fuzzing: the catalog decoders, the fast paths of the hot session command
# and events against the general codecs, and the query API.
fuzz:
	$(GO) test ./codecs -run '^$$' -fuzz '^FuzzDecodeCatalog$$' -fuzztime $(FUZZTIME)
	$(GO) test ./codecs -run '^$$' -fuzz '^FuzzSessionCommandFastPath$$' -fuzztime $(FUZZTIME)
	$(GO) test ./codecs -run '^$$' -fuzz '^FuzzEventFastPaths$$' -fuzztime $(FUZZTIME)
	$(GO) test ./views -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME)

lint: fmt-check vet

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Regenerates the codecs from contracts/*.yaml.
generate:
	$(GO) generate ./codecs/...

# Regenerates the internal protobuf types (needs protoc, protoc-gen-go v1.36.12 and
# protoc-gen-go-vtproto v0.6.0, whose encoders codecs.MarshalProto uses).
proto:
	cd processors/account/accountpb && protoc --go_out=. --go_opt=paths=source_relative \
		--go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=marshal+size account.proto

bench: build
	./$(BIN) bench

# broker-failover needs Kafka's jars (fetched once from Maven Central); without a JDK and Maven
# it is skipped and says why.
chaos: build
	ATLAS_KAFKA_LIBS="$${ATLAS_KAFKA_LIBS:-$$(test/kafka/kafka.sh libs 2>/dev/null)}" ./$(BIN) chaos

helm-lint:
	bash .ci/helm-lint.sh

# The integration suites again, on a real Apache Kafka 4.x broker fetched from Maven Central
# (needs a JDK 17+ and Maven; see test/kafka/README.md).
test-kafka:
	test/kafka/integration.sh

clean:
	rm -rf bin bench/out
