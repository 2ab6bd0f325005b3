// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
//
// Passive XDP sensor for the workbench capture crate.
//
// For every packet: count it (per-CPU packets/bytes), copy the first `snaplen` bytes of the
// frame into a ring-buffer event with a kernel timestamp, and return XDP_PASS. It never
// drops, redirects or modifies a packet. When the ring buffer is full the event is lost and
// counted (per-CPU `lost`), never silent.
//
// Wake-ups are batched: an event is submitted with BPF_RB_NO_WAKEUP unless at least
// WAKEUP_BYTES are waiting, then with BPF_RB_FORCE_WAKEUP. A wake-up per event costs the
// sender most of its packet rate (measured: 332k pps → 130k pps on lo); the reader also
// polls every ~10 ms, so a quiet link still delivers within that time.
//
// Built by capture/build.rs:
//   clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -c

#include <linux/bpf.h>
#include <linux/types.h>

// No libbpf headers needed: the few helper declarations and BTF map macros are here.
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)BPF_FUNC_ringbuf_reserve;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)BPF_FUNC_ringbuf_submit;
static __u64 (*bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)BPF_FUNC_ringbuf_query;
static long (*bpf_xdp_load_bytes)(struct xdp_md *xdp_md, __u32 offset, void *buf, __u32 len) = (void *)BPF_FUNC_xdp_load_bytes;
static long (*bpf_xdp_get_buff_len)(struct xdp_md *xdp_md) = (void *)BPF_FUNC_xdp_get_buff_len;

// Largest snap length; the event buffer has this fixed size. Must match MAX_SNAPLEN in
// capture/src/live/mod.rs and the layout in capture/src/live/xdp.rs.
#define SNAPLEN_MAX 128

// Batch threshold for wake-ups (bytes waiting in the ring buffer).
#define WAKEUP_BYTES (256 * 1024)

// Set by the loader (EbpfLoader::set_global) before load; read-only afterwards, so the
// verifier sees a constant.
volatile const __u32 snaplen = SNAPLEN_MAX;

// Event layout (little-endian, 8-byte aligned): 16-byte header then the frame bytes.
struct event {
	__u64 ts_ns;    // bpf_ktime_get_ns(): CLOCK_MONOTONIC
	__u32 wire_len; // frame length (linear part + fragments)
	__u16 caplen;   // bytes valid in data[]
	__u16 _pad;
	__u8 data[SNAPLEN_MAX];
};

struct stats {
	__u64 packets;
	__u64 bytes;
	__u64 lost; // ring-buffer reserve failures
	__u64 load_errors; // bpf_xdp_load_bytes failures (event still sent, caplen 0)
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024); // overridden by the loader
} EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} STATS SEC(".maps");

SEC("xdp")
int xdp_sensor(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct stats *st = bpf_map_lookup_elem(&STATS, &key);
	if (!st)
		return XDP_PASS;

	long len = bpf_xdp_get_buff_len(ctx);
	if (len < 0)
		len = 0;
	__u32 wire_len = (__u32)len;
	st->packets += 1;
	st->bytes += wire_len;

	struct event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		st->lost += 1;
		return XDP_PASS;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->wire_len = wire_len;
	e->_pad = 0;

	// 64-bit on purpose: with a __u32, clang tests a zero-extended copy of the register
	// and passes the unextended one to the helper, which the verifier sees as unbounded.
	__u64 cap = snaplen;
	if (cap > wire_len)
		cap = wire_len;
	if (cap > SNAPLEN_MAX)
		cap = SNAPLEN_MAX;
	// The empty asm keeps clang from merging the upper and lower bound checks into one
	// `(cap - 1) <= 127` test on a copy of the register, which the verifier cannot follow.
	asm volatile("" : "+r"(cap));
	if (cap != 0 && bpf_xdp_load_bytes(ctx, 0, e->data, cap) == 0) {
		e->caplen = (__u16)cap;
	} else {
		e->caplen = 0;
		if (wire_len > 0)
			st->load_errors += 1;
	}

	__u64 waiting = bpf_ringbuf_query(&EVENTS, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
