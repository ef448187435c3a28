# The one atlas image: every workload of the Helm chart runs it with a subcommand.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/atlas ./cmd/atlas

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/atlas /usr/local/bin/atlas
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/atlas"]
