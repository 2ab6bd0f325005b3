// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
//
// The cheapest possible XDP program: XDP_PASS and nothing else. scripts/bench_xdp.sh
// attaches it (with `ip link set dev lo xdpgeneric obj ...`) to separate the cost of
// running generic XDP at all from the cost of the sensor's ring-buffer events.
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
