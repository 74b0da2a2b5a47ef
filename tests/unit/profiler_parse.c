/* Unit tests of the node side's parsers: .go.buildinfo, Go versions, /proc/<pid>/stat
 * and maps lines, cgroup files and container naming, the x86 load scan, scaling. */
#include <errno.h>
#include <string.h>

#include "buildinfo.h"
#include "cgroup.h"
#include "codescan.h"
#include "goproc.h"
#include "heapread.h"
#include "procmem.h"
#include "support.h"
#include "testing.h"

TEST(go_versions)
{
	int a, b;
	CHECK(go_version_parse("go1.25.12", &a, &b) == 0 && a == 1 && b == 25);
	CHECK(go_version_parse("go1.21rc2", &a, &b) == 0 && b == 21);
	CHECK(go_version_parse("devel go1.26-abc123 Mon", &a, &b) == 0 && b == 26);
	CHECK(go_version_parse("go1.9", &a, &b) == 0 && b == 9);
	CHECK_EQ(go_version_parse("go2", &a, &b), -EINVAL);
	CHECK_EQ(go_version_parse("1.25", &a, &b), -EINVAL);
	CHECK_EQ(go_version_parse("go1.", &a, &b), -EINVAL);
	CHECK_EQ(go_version_parse("", &a, &b), -EINVAL);
}

static size_t make_buildinfo(unsigned char *p, const char *version, const char *mod)
{
	size_t n = 32, vl = strlen(version), ml = strlen(mod);
	memset(p, 0, 32);
	memcpy(p, "\xff Go buildinf:", 14);
	p[14] = 8;
	p[15] = 2;
	p[n++] = (unsigned char)vl;
	memcpy(p + n, version, vl);
	n += vl;
	p[n++] = (unsigned char)ml;
	memcpy(p + n, mod, ml);
	return n + ml;
}

TEST(buildinfo_inline_format)
{
	unsigned char data[512];
	struct go_buildinfo bi;
	const char *mod = "0123456789abcdefpath\texample.com/cmd/server\nmod\texample.com\t(devel)\t\n"
			  "0123456789abcdef";
	size_t n = make_buildinfo(data, "go1.27.4", mod);

	CHECK_EQ(go_buildinfo_parse(data, n, NULL, NULL, &bi), 0);
	CHECK_STR(bi.version, "go1.27.4");
	CHECK_EQ(bi.minor, 27);
	CHECK_STR(bi.main_path, "example.com/cmd/server");
	/* truncated and corrupt forms are errors, never reads past the end */
	for (size_t cut = 0; cut < n; cut++) {
		int r = go_buildinfo_parse(data, cut, NULL, NULL, &bi);
		CHECK_MSG(cut >= 41 ? 1 : r == -EPROTO, "cut %zu", cut);
	}
	data[0] = 0;
	CHECK_EQ(go_buildinfo_parse(data, n, NULL, NULL, &bi), -EPROTO);
	n = make_buildinfo(data, "go1.2\x01", "");
	CHECK_EQ(go_buildinfo_parse(data, n, NULL, NULL, &bi), -EPROTO);
	n = make_buildinfo(data, "hello", "");
	CHECK_EQ(go_buildinfo_parse(data, n, NULL, NULL, &bi), -EPROTO);
	/* the pointer format needs a way to read memory */
	n = make_buildinfo(data, "go1.17", "");
	data[15] = 0;
	CHECK_EQ(go_buildinfo_parse(data, n, NULL, NULL, &bi), -EPROTO);
}

TEST(proc_stat_lines)
{
	const char *s = "1234 (my (weird) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 "
			"8 0 987654 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0";
	uint64_t start = 0;
	char state = 0;
	CHECK_EQ(proc_stat_parse(s, strlen(s), &start, &state), 0);
	CHECK_EQ(start, 987654);
	CHECK_EQ(state, 'S');
	CHECK_EQ(proc_stat_parse("12 (x) S 1 2", 12, &start, &state), -EINVAL);
	CHECK_EQ(proc_stat_parse("garbage", 7, &start, &state), -EINVAL);
	CHECK_EQ(proc_stat_parse("", 0, &start, &state), -EINVAL);
}

TEST(proc_maps_lines)
{
	struct proc_mapping m;
	CHECK_EQ(proc_maps_parse_line("00400000-004e2000 r-xp 00000000 fd:01 1234567    "
				      "/usr/bin/some prog\n", &m), 0);
	CHECK_EQ(m.start, 0x400000);
	CHECK_EQ(m.end, 0x4e2000);
	CHECK_EQ(m.inode, 1234567);
	CHECK_EQ(m.dev_major, 0xfd);
	CHECK_STR(m.perms, "r-xp");
	CHECK_STR(m.path, "/usr/bin/some prog");
	CHECK_EQ(proc_maps_parse_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0\n", &m), 0);
	CHECK_STR(m.path, "");
	CHECK_EQ(proc_maps_parse_line("zzzz", &m), -EINVAL);
	CHECK_EQ(proc_maps_parse_line("2000-1000 r-xp 0 0:0 0", &m), -EINVAL);
	CHECK_EQ(proc_maps_parse_line("", &m), -EINVAL);
}

TEST(cgroup_naming)
{
	static const char id[] = "4e3b0f1c6d2a7b8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";
	struct container_info ci;
	char text[1024];

	snprintf(text, sizeof(text),
		 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_"
		 "7182_93a4_b5c6d7e8f90a.slice/cri-containerd-%s.scope\n", id);
	CHECK_EQ(container_info_parse(text, strlen(text), NULL, "server", &ci), 0);
	CHECK_STR(ci.runtime_id, id);
	CHECK_STR(ci.pod_uid, "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f90a");
	CHECK(strncmp(ci.container_id, "/k8s/pod1b2c3d4e-5f60", 21) == 0);

	snprintf(text, sizeof(text),
		 "12:pids:/docker/%s\n11:cpu,cpuacct:/docker/%s\n1:name=systemd:/docker/%s\n", id,
		 id, id);
	CHECK_EQ(container_info_parse(text, strlen(text), NULL, "server", &ci), 0);
	CHECK(strcmp(ci.container_id, "/docker/") > 0 && strstr(ci.container_id, id));

	snprintf(text, sizeof(text), "0::/system.slice/crio-%s.scope\n", id);
	CHECK_EQ(container_info_parse(text, strlen(text), NULL, "x", &ci), 0);
	CHECK(strncmp(ci.container_id, "/crio/", 6) == 0);

	strcpy(text, "0::/system.slice/coroot-demo.service\n");
	CHECK_EQ(container_info_parse(text, strlen(text), NULL, "demo", &ci), 0);
	CHECK_STR(ci.container_id, "/system.slice/coroot-demo.service");
	CHECK_STR(ci.service_name, "coroot-demo");

	strcpy(text, "0::/\n");
	CHECK_EQ(container_info_parse(text, strlen(text), NULL, "heapgen", &ci), 0);
	CHECK_STR(ci.container_id, "/");
	CHECK_STR(ci.service_name, "heapgen");

	CHECK_EQ(container_info_parse("", 0, NULL, "x", &ci), -EINVAL);
	CHECK_EQ(container_info_parse("nonsense", 8, NULL, "x", &ci), -EINVAL);
}

TEST(cgroup_names_kubernetes_containers_from_log_links)
{
	static const char id[] = "4e3b0f1c6d2a7b8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";
	char *dir = test_tmpdir("logs"), path[1024], text[1024];
	struct container_info ci;

	snprintf(path, sizeof(path), "%s/catalog-7d9c8b6f5d-x2w4k_shop_server-%s.log", dir, id);
	CHECK(test_write_file(path, "", 0) == 0);
	snprintf(path, sizeof(path), "%s/other-abcde_shop_server-%064d.log", dir, 0);
	CHECK(test_write_file(path, "", 0) == 0);
	snprintf(text, sizeof(text),
		 "0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f90a.slice/"
		 "cri-containerd-%s.scope\n", id);
	CHECK_EQ(container_info_parse(text, strlen(text), dir, "server", &ci), 0);
	CHECK_STR(ci.container_id, "/k8s/shop/catalog-7d9c8b6f5d-x2w4k/server");
	CHECK_STR(ci.service_name, "/k8s/shop/catalog");
	test_rmtree(dir);
	free(dir);
}

TEST(x86_rip_relative_loads)
{
	/* MOVQ 0x100(IP), CX; MOVL 0x20(IP), AX; REX MOVL 0x10(IP), R8; RET */
	static const uint8_t code[] = {0x48, 0x8b, 0x0d, 0x00, 0x01, 0x00, 0x00,
				       0x8b, 0x05, 0x20, 0x00, 0x00, 0x00,
				       0x44, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00, 0xc3};
	uint64_t t[4];
	CHECK_EQ(x86_rip_loads(code, sizeof(code), 0x1000, 1, t, 4), 1);
	CHECK_EQ(t[0], 0x1000 + 7 + 0x100);
	CHECK_EQ(x86_rip_loads(code, sizeof(code), 0x1000, 0, t, 4), 2);
	CHECK_EQ(t[0], 0x1000 + 13 + 0x20);
	CHECK_EQ(t[1], 0x1000 + 20 + 0x10);
	/* truncated code never reads past the end */
	CHECK_EQ(x86_rip_loads(code, 5, 0x1000, 1, t, 4), 0);
}

TEST(scaling_matches_runtime_pprof)
{
	int64_t c, s;
	/* 7 objects x 1024 B at the default rate: the figures pprof writes */
	heap_scale(7, 7 * 1024, 524288, &c, &s);
	CHECK_EQ(c, 3587);
	CHECK_EQ(s, 3673601);
	heap_scale(5, 500, 1, &c, &s);
	CHECK(c == 5 && s == 500);
	heap_scale(0, 0, 524288, &c, &s);
	CHECK(c == 0 && s == 0);
}
