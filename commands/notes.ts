/** Said in `help start` and `help bundle`: where a proxy's host names are looked up. */
export const SOCKS_DNS_NOTE =
  "Host names sent to a SOCKS proxy (socks5h, curl --socks5-hostname) are looked up by the bot's host with its own resolver, outside the node's tunnel; only the connection goes through the tunnel. Resolve names yourself and send addresses (socks5) if the lookup must not be seen there; SOCKS_HOSTNAMES=refuse makes the proxies refuse names.";
