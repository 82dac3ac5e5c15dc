/*
 * share_proto.c — the framing between the watcher and attach clients
 * (share.h): one header of type + 24-bit length, then the payload; and
 * where the sockets live by default.
 */
#include "emsagent/share.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void share_put(struct buf *out, char type, const void *payload, size_t len)
{
	assert(len <= SHARE_MAX_FRAME);
	uint8_t h[SHARE_HDR] = {(uint8_t)type, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	buf_append(out, h, sizeof(h));
	if (len)
		buf_append(out, payload, len);
}

void share_rx_init(struct share_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->payload = xmalloc(SHARE_MAX_FRAME + 1);
}

void share_rx_free(struct share_rx *rx)
{
	free(rx->payload);
	rx->payload = NULL;
}

int share_rx_feed(struct share_rx *rx, const void *buf, size_t n, share_frame_fn fn, void *ctx, char *err,
                  size_t errsz)
{
	const uint8_t *p = buf;
	while (n > 0) {
		if (rx->have_hdr < SHARE_HDR) {
			size_t take = SHARE_HDR - rx->have_hdr;
			if (take > n)
				take = n;
			memcpy(rx->hdr + rx->have_hdr, p, take);
			rx->have_hdr += take;
			p += take;
			n -= take;
			if (rx->have_hdr < SHARE_HDR)
				break;
			rx->type = (char)rx->hdr[0];
			rx->len = (size_t)rx->hdr[1] << 16 | (size_t)rx->hdr[2] << 8 | rx->hdr[3];
			rx->have = 0;
			if (rx->type < 'A' || rx->type > 'z') {
				errbuf_set(err, errsz, "protocol error: unknown frame type 0x%02x",
				           rx->hdr[0]);
				return -1;
			}
			if (rx->len > SHARE_MAX_FRAME) {
				errbuf_set(err, errsz, "protocol error: a frame of %zu bytes (at most %u)",
				           rx->len, SHARE_MAX_FRAME);
				return -1;
			}
		}
		size_t take = rx->len - rx->have;
		if (take > n)
			take = n;
		memcpy(rx->payload + rx->have, p, take);
		rx->have += take;
		p += take;
		n -= take;
		if (rx->have == rx->len) {
			rx->payload[rx->len] = '\0';
			rx->have_hdr = 0;
			fn(ctx, rx->type, rx->payload, rx->len);
		}
	}
	return 0;
}

const char *share_default_dir(void)
{
	static char dir[4096];
	const char *env = getenv("EMSAGENT_SHARE_DIR");
	if (env && env[0])
		return env;
	if (geteuid() == 0)
		return "/run/emsagent";
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/') {
		snprintf(dir, sizeof(dir), "%s/emsagent", xdg);
		return dir;
	}
	snprintf(dir, sizeof(dir), "/tmp/emsagent-%u", (unsigned)geteuid());
	return dir;
}
