// The benchmark's upstream in its own process (so the direct baseline does not share a CPU
// thread with the load generator): prints its ports as one JSON line, runs until SIGTERM.
import { startUpstream } from '../../test/helpers/upstream.js';

const upstream = await startUpstream({ record: false });
process.stdout.write(`${JSON.stringify({ httpPort: upstream.httpPort, httpsPort: upstream.httpsPort, caFile: upstream.caFile, caPem: upstream.caPem })}\n`);
const stop = () => void upstream.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
