/*
 * ems.c — tolerant, bounded scanner for Windows EMS records (sac-ems.md §5).
 *
 * Works tag by tag on normalised lines: the kernel's <BP> record is not
 * well-formed XML ("<?xml>" has no version, several elements share a line,
 * the STOPCODE value is quoted inside <VALUE>), so a real XML parser would
 * reject what Windows actually sends. Every tag is looked at left to right,
 * so a record may be spread over many lines or packed into one. All output
 * goes into fixed-size fields; a record that never closes is cut off by
 * EMS_MAX_RECORD_LINES / EMS_MAX_RECORD_BYTES and delivered as truncated.
 */
#include "emsagent/ems.h"

#include <string.h>

enum { ST_OUTSIDE = 0, ST_BP = 1, ST_MI = 2 };

void ems_init(struct ems_parser *p, ems_record_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
}

static void reset(struct ems_parser *p)
{
	p->state = ST_OUTSIDE;
	p->in_mi = false;
	p->in_stop_prop = false;
	p->lines = 0;
	p->bytes = 0;
	memset(&p->cur, 0, sizeof(p->cur));
}

static void emit(struct ems_parser *p, bool truncated)
{
	p->cur.truncated = truncated;
	if (p->fn)
		p->fn(p->ctx, &p->cur);
	reset(p);
}

static void open_record(struct ems_parser *p, enum ems_kind kind, uint64_t offset, size_t bytes)
{
	if (p->state != ST_OUTSIDE)
		emit(p, true); /* a new record starts: the open one never closed */
	p->state = kind == EMS_BUGCHECK ? ST_BP : ST_MI;
	p->cur.kind = kind;
	p->cur.offset = offset;
	p->lines = 1;
	p->bytes = bytes;
	if (kind == EMS_MACHINE_INFO) {
		p->in_mi = true;
		p->cur.has_machine_info = true;
	}
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lower(lit[i]))
			return false;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Drops a UTF-8 sequence left incomplete at the end of a cut value. */
static size_t utf8_trim_tail(const char *s, size_t n)
{
	size_t i = n, cont = 0;
	while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t want; /* continuation bytes the lead byte announces */
	if (lead >= 0xC0 && lead < 0xE0)
		want = 1;
	else if (lead >= 0xE0 && lead < 0xF0)
		want = 2;
	else if (lead >= 0xF0 && lead < 0xF8)
		want = 3;
	else
		return n; /* not a lead byte: nothing to repair */
	return cont < want ? i - 1 : n;
}

/* Copies a text value into dst (size dsz): blanks trimmed, the five XML
 * entities decoded (others kept as written), cut to fit. */
static void copy_value(char *dst, size_t dsz, const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	while (n && is_blank(*s)) {
		s++;
		n--;
	}
	while (n && is_blank(s[n - 1]))
		n--;
	size_t o = 0;
	bool cut = false;
	for (size_t i = 0; i < n;) {
		char c = s[i];
		size_t adv = 1;
		if (c == '&') {
			for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]); e++) {
				size_t el = strlen(ents[e].ent);
				if (i + el <= n && eq_nocase(s + i, el, ents[e].ent)) {
					c = ents[e].c;
					adv = el;
					break;
				}
			}
		}
		if (o + 1 >= dsz) {
			cut = true;
			break;
		}
		dst[o++] = c;
		i += adv;
	}
	if (cut)
		o = utf8_trim_tail(dst, o);
	dst[o] = '\0';
}

/* "0xE2", "0XE2", "e2": 1-8 hex digits, optional 0x. */
static bool parse_hex32(const char *s, uint32_t *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	uint32_t v = 0;
	size_t nd = 0;
	for (; *s; s++, nd++) {
		char c = lower(*s);
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		if (nd >= 8)
			return false;
		v = v << 4 | d;
	}
	if (nd == 0)
		return false;
	*out = v;
	return true;
}

static void set_stopcode(struct ems_parser *p, const char *s, size_t n)
{
	/* Room for quotes and blanks around a full-size code, so the cut to
	 * the field happens after they are gone. */
	char tmp[sizeof(p->cur.stopcode_text) + 32];
	copy_value(tmp, sizeof(tmp), s, n);
	/* Windows wraps the code in double quotes; tolerate single or none. */
	char *v = tmp;
	size_t l = strlen(v);
	if (l >= 2 && (v[0] == '"' || v[0] == '\'') && v[l - 1] == v[0]) {
		v[l - 1] = '\0';
		v++;
	} else if (l >= 1 && (v[0] == '"' || v[0] == '\'')) {
		v++; /* unbalanced (cut or garbled): keep what follows */
	}
	while (is_blank(*v))
		v++;
	l = strlen(v);
	while (l && is_blank(v[l - 1]))
		v[--l] = '\0';
	if (l >= sizeof(p->cur.stopcode_text))
		l = sizeof(p->cur.stopcode_text) - 1;
	memcpy(p->cur.stopcode_text, v, l);
	p->cur.stopcode_text[l] = '\0';
	uint32_t code;
	p->cur.has_stopcode = parse_hex32(p->cur.stopcode_text, &code);
	p->cur.stopcode = p->cur.has_stopcode ? code : 0;
}

/* True when the tag's attributes include NAME=<want> (quotes optional). */
static bool attr_name_is(const char *t, size_t n, const char *want)
{
	size_t i = 0;
	while (i < n && !is_blank(t[i]))
		i++; /* the tag name */
	while (i < n) {
		while (i < n && is_blank(t[i]))
			i++;
		size_t an = i;
		while (i < n && !is_blank(t[i]) && t[i] != '=')
			i++;
		size_t alen = i - an;
		while (i < n && is_blank(t[i]))
			i++;
		if (i >= n || t[i] != '=')
			continue;
		i++;
		while (i < n && is_blank(t[i]))
			i++;
		size_t vs, ve;
		if (i < n && (t[i] == '"' || t[i] == '\'')) {
			char q = t[i++];
			vs = i;
			while (i < n && t[i] != q)
				i++;
			ve = i;
			if (i < n)
				i++;
		} else {
			vs = i;
			while (i < n && !is_blank(t[i]))
				i++;
			ve = i;
		}
		if (eq_nocase(t + an, alen, "NAME"))
			return eq_nocase(t + vs, ve - vs, want);
	}
	return false;
}

struct mi_field {
	const char *tag;
	size_t off, size;
};

#define MI_FIELD(tag, f)                                                                                     \
	{                                                                                                    \
		tag, offsetof(struct ems_machine_info, f), sizeof(((struct ems_machine_info *)0)->f)         \
	}
static const struct mi_field mi_fields[] = {
    MI_FIELD("name", name),
    MI_FIELD("guid", guid),
    MI_FIELD("processor-architecture", arch),
    MI_FIELD("os-version", os_version),
    MI_FIELD("os-build-number", os_build),
    MI_FIELD("os-product", os_product),
    MI_FIELD("os-service-pack", os_sp),
};

/* The element's text: from the end of its open tag to the next '<' (or the
 * end of the line). Returns where scanning goes on. */
static size_t element_text(const char *s, size_t len, size_t from, size_t *tlen)
{
	const char *lt = memchr(s + from, '<', len - from);
	size_t end = lt ? (size_t)(lt - s) : len;
	*tlen = end - from;
	return end;
}

/*
 * One tag: t/tn is what lies between '<' and '>'; *pos is just after '>'
 * and may be moved past an element's text.
 */
static void handle_tag(struct ems_parser *p, const char *t, size_t tn, const char *s, size_t len, size_t *pos,
                       uint64_t offset, size_t tag_start)
{
	bool closing = tn > 0 && t[0] == '/';
	const char *name = closing ? t + 1 : t;
	size_t avail = closing ? tn - 1 : tn, nn = 0;
	while (nn < avail && !is_blank(name[nn]) && name[nn] != '/')
		nn++;

	if (eq_nocase(name, nn, "BP")) {
		if (!closing)
			open_record(p, EMS_BUGCHECK, offset, len - tag_start);
		else if (p->state == ST_BP)
			emit(p, false);
		return;
	}
	if (eq_nocase(name, nn, "machine-info")) {
		if (!closing) {
			if (p->state == ST_OUTSIDE) {
				open_record(p, EMS_MACHINE_INFO, offset, len - tag_start);
			} else if (p->state == ST_BP) {
				p->in_mi = true;
				p->cur.has_machine_info = true;
			}
		} else if (p->state == ST_MI) {
			emit(p, false);
		} else if (p->state == ST_BP) {
			p->in_mi = false;
		}
		return;
	}
	if (closing && p->state == ST_BP && eq_nocase(name, nn, "PROPERTY"))
		p->in_stop_prop = false;
	if (p->state == ST_OUTSIDE || closing)
		return;

	if (p->state == ST_BP) {
		if (eq_nocase(name, nn, "PROPERTY")) {
			p->in_stop_prop = attr_name_is(t, tn, "STOPCODE");
			return;
		}
		if (p->in_stop_prop && eq_nocase(name, nn, "VALUE")) {
			size_t vl;
			size_t next = element_text(s, len, *pos, &vl);
			if (!p->cur.stopcode_text[0] && !p->cur.has_stopcode)
				set_stopcode(p, s + *pos, vl);
			*pos = next;
			return;
		}
	}
	if (p->in_mi) {
		for (size_t i = 0; i < sizeof(mi_fields) / sizeof(mi_fields[0]); i++) {
			if (!eq_nocase(name, nn, mi_fields[i].tag))
				continue;
			size_t vl;
			size_t next = element_text(s, len, *pos, &vl);
			copy_value((char *)&p->cur.mi + mi_fields[i].off, mi_fields[i].size, s + *pos, vl);
			*pos = next;
			return;
		}
	}
}

void ems_feed_line(struct ems_parser *p, const char *s, size_t len, uint64_t offset)
{
	if (p->state != ST_OUTSIDE) {
		p->lines++;
		p->bytes += len + 1; /* + the line break the normaliser removed */
		if (p->lines > EMS_MAX_RECORD_LINES || p->bytes > EMS_MAX_RECORD_BYTES)
			emit(p, true); /* and this line is scanned afresh */
	}
	size_t i = 0;
	while (i < len) {
		const char *lt = memchr(s + i, '<', len - i);
		if (!lt)
			break;
		size_t a = (size_t)(lt - s), j = a + 1;
		/* Up to the next '>' ; a '<' first means the earlier one was
		 * not a tag. Each byte is looked at once: linear per line. */
		while (j < len && s[j] != '>' && s[j] != '<')
			j++;
		if (j >= len)
			break;
		if (s[j] == '<') {
			i = j;
			continue;
		}
		size_t pos = j + 1;
		handle_tag(p, s + a + 1, j - a - 1, s, len, &pos, offset, a);
		i = pos;
	}
}

void ems_finish(struct ems_parser *p)
{
	if (p->state != ST_OUTSIDE)
		emit(p, true);
}

struct stop_name {
	uint32_t code;
	const char *name;
};

/* Sorted by code (binary search). */
static const struct stop_name stop_names[] = {
    {0x01, "APC_INDEX_MISMATCH"},
    {0x0A, "IRQL_NOT_LESS_OR_EQUAL"},
    {0x12, "TRAP_CAUSE_UNKNOWN"},
    {0x19, "BAD_POOL_HEADER"},
    {0x1A, "MEMORY_MANAGEMENT"},
    {0x1E, "KMODE_EXCEPTION_NOT_HANDLED"},
    {0x20, "KERNEL_APC_PENDING_DURING_EXIT"},
    {0x24, "NTFS_FILE_SYSTEM"},
    {0x2E, "DATA_BUS_ERROR"},
    {0x35, "NO_MORE_IRP_STACK_LOCATIONS"},
    {0x3B, "SYSTEM_SERVICE_EXCEPTION"},
    {0x3D, "INTERRUPT_EXCEPTION_NOT_HANDLED"},
    {0x3F, "NO_MORE_SYSTEM_PTES"},
    {0x44, "MULTIPLE_IRP_COMPLETE_REQUESTS"},
    {0x4A, "IRQL_GT_ZERO_AT_SYSTEM_SERVICE"},
    {0x4E, "PFN_LIST_CORRUPT"},
    {0x50, "PAGE_FAULT_IN_NONPAGED_AREA"},
    {0x51, "REGISTRY_ERROR"},
    {0x5C, "HAL_INITIALIZATION_FAILED"},
    {0x67, "CONFIG_INITIALIZATION_FAILED"},
    {0x6B, "PROCESS1_INITIALIZATION_FAILED"},
    {0x74, "BAD_SYSTEM_CONFIG_INFO"},
    {0x77, "KERNEL_STACK_INPAGE_ERROR"},
    {0x78, "PHASE0_EXCEPTION"},
    {0x7A, "KERNEL_DATA_INPAGE_ERROR"},
    {0x7B, "INACCESSIBLE_BOOT_DEVICE"},
    {0x7D, "INSTALL_MORE_MEMORY"},
    {0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
    {0x7F, "UNEXPECTED_KERNEL_MODE_TRAP"},
    {0x80, "NMI_HARDWARE_FAILURE"},
    {0x8E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED"},
    {0x9C, "MACHINE_CHECK_EXCEPTION"},
    {0x9F, "DRIVER_POWER_STATE_FAILURE"},
    {0xA0, "INTERNAL_POWER_ERROR"},
    {0xA5, "ACPI_BIOS_ERROR"},
    {0xAB, "SESSION_HAS_VALID_POOL_ON_EXIT"},
    {0xB8, "ATTEMPTED_SWITCH_FROM_DPC"},
    {0xBE, "ATTEMPTED_WRITE_TO_READONLY_MEMORY"},
    {0xC1, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"},
    {0xC2, "BAD_POOL_CALLER"},
    {0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
    {0xC5, "DRIVER_CORRUPTED_EXPOOL"},
    {0xC9, "DRIVER_VERIFIER_IOMANAGER_VIOLATION"},
    {0xCA, "PNP_DETECTED_FATAL_ERROR"},
    {0xCE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"},
    {0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
    {0xD5, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
    {0xDE, "POOL_CORRUPTION_IN_FILE_AREA"},
    {0xE2, "MANUALLY_INITIATED_CRASH"},
    {0xEA, "THREAD_STUCK_IN_DEVICE_DRIVER"},
    {0xED, "UNMOUNTABLE_BOOT_VOLUME"},
    {0xEF, "CRITICAL_PROCESS_DIED"},
    {0xF4, "CRITICAL_OBJECT_TERMINATION"},
    {0xF7, "DRIVER_OVERRAN_STACK_BUFFER"},
    {0xFC, "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY"},
    {0x101, "CLOCK_WATCHDOG_TIMEOUT"},
    {0x109, "CRITICAL_STRUCTURE_CORRUPTION"},
    {0x10D, "WDF_VIOLATION"},
    {0x10E, "VIDEO_MEMORY_MANAGEMENT_INTERNAL"},
    {0x113, "VIDEO_DXGKRNL_FATAL_ERROR"},
    {0x116, "VIDEO_TDR_FAILURE"},
    {0x117, "VIDEO_TDR_TIMEOUT_DETECTED"},
    {0x119, "VIDEO_SCHEDULER_INTERNAL_ERROR"},
    {0x124, "WHEA_UNCORRECTABLE_ERROR"},
    {0x12B, "FAULTY_HARDWARE_CORRUPTED_PAGE"},
    {0x133, "DPC_WATCHDOG_VIOLATION"},
    {0x139, "KERNEL_SECURITY_CHECK_FAILURE"},
    {0x13A, "KERNEL_MODE_HEAP_CORRUPTION"},
    {0x144, "BUGCODE_USB3_DRIVER"},
    {0x154, "UNEXPECTED_STORE_EXCEPTION"},
    {0x189, "BAD_OBJECT_HEADER"},
    {0x18B, "SECURE_KERNEL_ERROR"},
    {0x1C8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD"},
    {0x1000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"},
    {0x1000007F, "UNEXPECTED_KERNEL_MODE_TRAP_M"},
    {0x1000008E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED_M"},
    {0xC0000218, "STATUS_CANNOT_LOAD_REGISTRY_FILE"},
    {0xC000021A, "STATUS_SYSTEM_PROCESS_TERMINATED"},
    {0xC0000221, "STATUS_IMAGE_CHECKSUM_MISMATCH"},
    {0xDEADDEAD, "MANUALLY_INITIATED_CRASH1"},
};

const char *ems_stopcode_name(uint32_t code)
{
	size_t lo = 0, hi = sizeof(stop_names) / sizeof(stop_names[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (stop_names[mid].code == code)
			return stop_names[mid].name;
		if (stop_names[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
