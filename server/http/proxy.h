/*
 * proxy: who the client is when a reverse proxy stands in front of the server.
 *
 * The trusted proxies (option trusted_proxies) are a list of addresses and
 * CIDR blocks. Only a request whose TCP peer is one of them may name its
 * client, in X-Forwarded-For, and then the client is the rightmost address
 * there that is not itself a trusted proxy. Each proxy appends the address it
 * got the request from: what stands right of the first untrusted hop was
 * written by proxies we trust, and what stands left of it was written by the
 * client and may be anything. A request from any other peer keeps its peer as
 * its client, whatever headers it sends.
 *
 * Pure functions, no I/O. A parsed list is immutable: any number of threads
 * may read it at once.
 */
#ifndef SMARTMETER_PROXY_H
#define SMARTMETER_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_LIST_MAX 64 /* entries in a list */
#define PROXY_ADDR_MAX 46 /* an address as text, with its NUL (INET6_ADDRSTRLEN) */
#define PROXY_HOPS_MAX 32 /* X-Forwarded-For entries looked at, from the right */

struct proxy_list;

/*
 * Parses "ADDR[/BITS]" entries separated by commas or white space (IPv4 or
 * IPv6; bits below the prefix are ignored). NULL or a spec without entries
 * gives *ret = NULL: no proxy is trusted. Returns 0, -ENOMEM, or -EINVAL with
 * err naming the bad entry. Free the list with proxy_list_free().
 */
int proxy_list_parse(const char *spec, struct proxy_list **ret, char *err, size_t errlen);

void proxy_list_free(struct proxy_list *l);

/*
 * The client of a request from peer (an address as inet_ntop writes it) that
 * carried the X-Forwarded-For values xff[0..n), in the order they came (a
 * repeated header counts as one list). Scanning from the right it skips
 * trusted proxies and stops at the first other address, which is the client;
 * when every entry is trusted, the leftmost is. An entry that is not an
 * address (or past PROXY_HOPS_MAX) ends the scan at the trusted hop to its
 * right. Entries may carry a port ("192.0.2.1:443", "[2001:db8::1]:443").
 *
 * Writes the client's address to out (inet_ntop form; an IPv4-mapped IPv6
 * address as plain IPv4). Returns true when it came from X-Forwarded-For,
 * false when it is the peer (l is NULL, the peer is not trusted, or no usable
 * entry).
 */
bool proxy_client_address(const struct proxy_list *l, const char *peer, const char *const *xff,
                          size_t n, char out[PROXY_ADDR_MAX]);

#endif
