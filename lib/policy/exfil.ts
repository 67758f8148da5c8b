// Well-known services whose purpose is to take data away or open a way in: pastebins, request
// capture ("bins", webhook testers, out-of-band interaction servers), tunnels and file drops.
// With `allow: ["*"]` (DLP-only mode) they are blocked unless the operator names one in allow:
// DLP sees patterns, and these hosts are where a transform no pattern catches would go.
export const EXFIL_SERVICES: readonly string[] = [
  // pastebins
  'pastebin.com', 'paste.ee', 'hastebin.com', 'hastebin.skyra.pw', 'dpaste.com', 'dpaste.org', 'paste.rs',
  'termbin.com', 'ix.io', 'sprunge.us', 'rentry.co', 'rentry.org', 'controlc.com', 'justpaste.it', 'pastes.io',
  'ghostbin.cafe', 'privatebin.net', 'paste.mozilla.org',
  // request capture and out-of-band interaction
  'webhook.site', 'requestbin.com', '*.requestbin.net', '*.m.pipedream.net', 'beeceptor.com', '*.free.beeceptor.com',
  'hookbin.com', '*.requestcatcher.com', 'requestcatcher.com', '*.burpcollaborator.net', '*.oastify.com',
  '*.oast.fun', '*.oast.live', '*.oast.me', '*.oast.online', '*.oast.pro', '*.oast.site', '*.interact.sh',
  '*.dnslog.cn', '*.ceye.io',
  // tunnels
  '*.ngrok.io', '*.ngrok-free.app', '*.ngrok.app', '*.ngrok-free.dev', '*.trycloudflare.com', '*.loca.lt',
  '*.serveo.net', '*.localhost.run', '*.lhr.life', '*.bore.pub', 'bore.pub', '*.pinggy.link',
  // file drops
  'transfer.sh', '0x0.st', 'file.io', 'tmpfiles.org', 'temp.sh', 'bashupload.com', 'oshi.at', 'filebin.net',
  'catbox.moe', 'litterbox.catbox.moe', 'gofile.io', '*.gofile.io',
];
