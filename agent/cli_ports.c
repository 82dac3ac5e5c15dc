/*
 * cli_ports.c — `emsagent ports [--json]`: the serial ports this machine
 * has, as libserialport sees them (name, description, native/USB/Bluetooth,
 * USB vid:pid, manufacturer, product, serial number).
 *
 * USB descriptor strings come from the device itself and may hold anything:
 * the text output shows control and non-ASCII bytes as '?'; JSON escapes
 * them through json-c.
 * Exit: 0 (also when there are none: "no serial ports found" on stderr),
 * 2 on a usage error or when the ports cannot be listed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <libserialport.h>

#include "emsagent/cli.h"

struct port_info {
	const char *name, *desc, *transport, *manufacturer, *product, *serial;
	int vid, pid;
	bool has_usb_id;
};

static const char *transport_name(enum sp_transport t)
{
	switch (t) {
	case SP_TRANSPORT_NATIVE:
		return "native";
	case SP_TRANSPORT_USB:
		return "usb";
	case SP_TRANSPORT_BLUETOOTH:
		return "bluetooth";
	}
	return "unknown";
}

static void get_info(struct sp_port *port, struct port_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->name = sp_get_port_name(port);
	pi->desc = sp_get_port_description(port);
	enum sp_transport tr = sp_get_port_transport(port);
	pi->transport = transport_name(tr);
	if (tr == SP_TRANSPORT_USB) {
		pi->has_usb_id = sp_get_port_usb_vid_pid(port, &pi->vid, &pi->pid) == SP_OK;
		pi->manufacturer = sp_get_port_usb_manufacturer(port);
		pi->product = sp_get_port_usb_product(port);
		pi->serial = sp_get_port_usb_serial(port);
	}
}

/* Prints s with anything but printable ASCII as '?', at most max bytes. */
static void put_safe(FILE *out, const char *s, size_t max)
{
	if (!s || !*s) {
		fputc('-', out);
		return;
	}
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c >= 0x20 && c < 0x7f ? c : '?', out);
	}
}

static void print_text(FILE *out, struct sp_port **ports)
{
	fprintf(out, "%-24s %-10s %-10s %s\n", "NAME", "TRANSPORT", "USB ID", "DESCRIPTION");
	for (size_t i = 0; ports[i]; i++) {
		struct port_info pi;
		get_info(ports[i], &pi);
		char id[16] = "-";
		if (pi.has_usb_id)
			snprintf(id, sizeof(id), "%04x:%04x", (unsigned)pi.vid & 0xffffu,
			         (unsigned)pi.pid & 0xffffu);
		/* the name is a path the kernel made; the rest may be anything */
		fprintf(out, "%-24s %-10s %-10s ", pi.name ? pi.name : "?", pi.transport, id);
		put_safe(out, pi.desc, 200);
		fputc('\n', out);
		if (pi.manufacturer || pi.product || pi.serial) {
			fputs("    manufacturer: ", out);
			put_safe(out, pi.manufacturer, 200);
			fputs("  product: ", out);
			put_safe(out, pi.product, 200);
			fputs("  serial: ", out);
			put_safe(out, pi.serial, 200);
			fputc('\n', out);
		}
	}
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void print_json(FILE *out, struct sp_port **ports)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; ports && ports[i]; i++) {
		struct port_info pi;
		get_info(ports[i], &pi);
		json_object *o = json_object_new_object();
		add_str(o, "name", pi.name);
		add_str(o, "description", pi.desc);
		add_str(o, "transport", pi.transport);
		if (pi.has_usb_id) {
			char id[8];
			snprintf(id, sizeof(id), "%04x", (unsigned)pi.vid & 0xffffu);
			add_str(o, "usb_vid", id);
			snprintf(id, sizeof(id), "%04x", (unsigned)pi.pid & 0xffffu);
			add_str(o, "usb_pid", id);
		} else {
			add_str(o, "usb_vid", NULL);
			add_str(o, "usb_pid", NULL);
		}
		add_str(o, "manufacturer", pi.manufacturer);
		add_str(o, "product", pi.product);
		add_str(o, "serial_number", pi.serial);
		json_object_array_add(arr, o);
	}
	fprintf(out, "%s\n",
	        json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: emsagent ports [--json]\n"
	             "lists the serial ports of this machine (name, transport, USB ids, description)\n");
}

int cli_ports(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			cli_error("ports", "unknown argument '%s'", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	struct sp_port **ports = NULL;
	if (sp_list_ports(&ports) != SP_OK) {
		char *msg = sp_last_error_message();
		cli_error("ports", "cannot list serial ports: %s", msg ? msg : "unknown error");
		sp_free_error_message(msg);
		return EXIT_USAGE;
	}
	if (!ports || !ports[0]) {
		fprintf(stderr, "no serial ports found\n");
		if (json)
			print_json(stdout, NULL);
		sp_free_port_list(ports);
		return 0;
	}
	if (json)
		print_json(stdout, ports);
	else
		print_text(stdout, ports);
	sp_free_port_list(ports);
	return 0;
}
