# The cairn image: the static binary `make build` makes (CGO_ENABLED=0) and
# nothing else. This machine's Docker engine has no registry, so the image
# starts FROM scratch and pulls nothing: build it with `make image`.
FROM scratch
COPY bin/cairn /cairn
VOLUME /data
# Kafka, internal (Raft + RPC), gossip (TCP and UDP), HTTP admin.
EXPOSE 9092 9093 7946 7946/udp 9644
ENTRYPOINT ["/cairn"]
CMD ["serve", "--data", "/data", "--kafka-addr", "0.0.0.0:9092", "--internal-addr", "0.0.0.0:9093", "--gossip-addr", "0.0.0.0:7946", "--http-addr", "0.0.0.0:9644"]
