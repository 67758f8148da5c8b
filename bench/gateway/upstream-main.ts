// The benchmark's upstream in its own process (so the direct baseline does not share a CPU
// thread with the load generator): prints its ports as one JSON line, runs until SIGTERM.
// POST /v1/messages answers as a streaming model API does (model-stream.ts).
import { startUpstream } from '../../test/helpers/upstream.js';
import { answerMessages } from './model-stream.js';

const upstream = await startUpstream({ record: false, handle: answerMessages });
process.stdout.write(`${JSON.stringify({ httpPort: upstream.httpPort, httpsPort: upstream.httpsPort, caFile: upstream.caFile, caPem: upstream.caPem })}\n`);
const stop = () => void upstream.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
