# The cairn image: the static binary `make build` makes (CGO_ENABLED=0) and
# nothing else. This machine's Docker engine has no registry, so the image
# starts FROM scratch and pulls nothing: build it with `make image`.
FROM scratch
COPY bin/cairn /cairn
VOLUME /data
# Kafka, internal (Raft + RPC), gossip (TCP and UDP), HTTP admin.
EXPOSE 9092 9093 7946 7946/udp 9644
# serve's defaults for a container, as environment variables: a flag on the
# command line overrides its variable, and -e CAIRN_LISTENERS=... or
# -e CAIRN_ADVERTISED_LISTENERS=... (or --kafka-addr) replace the listener.
ENV CAIRN_DATA=/data \
    CAIRN_LISTENERS=PLAINTEXT://0.0.0.0:9092 \
    CAIRN_INTERNAL_ADDR=0.0.0.0:9093 \
    CAIRN_GOSSIP_ADDR=0.0.0.0:7946 \
    CAIRN_HTTP_ADDR=0.0.0.0:9644
ENTRYPOINT ["/cairn"]
CMD ["serve"]
