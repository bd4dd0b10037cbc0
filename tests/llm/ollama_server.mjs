// A small server that speaks the Ollama HTTP API over a real model, for btk's real-model test lane.
//
//   node ollama_server.mjs --model path/to/model.gguf --name smollm2:135m --port 11435
//
// It answers /api/version, /api/tags, /api/show, /api/chat and /api/generate (streamed as NDJSON or not,
// `format` as a JSON schema or "json", 404 for an unknown model) with node-llama-cpp's prebuilt CPU
// binaries. One generation runs at a time; a generation stops when its client disconnects. Sampling follows
// Ollama's defaults (temperature 0.8, top_k 40, top_p 0.9, repeat penalty 1.1) unless the request's options
// say otherwise; `num_ctx` sizes the context like Ollama's (a longer prompt is cut from the front, and the
// answer reports `prompt_eval_count` so a client can tell). Threads = CPU count (node-llama-cpp's default of
// 4 is ~100x slower on a 2-core machine).
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaChat } from "node-llama-cpp";

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const MODEL_NAME = args.name ?? "smollm2:135m";
const PORT = Number(args.port ?? 11435);
const THREADS = os.cpus().length;
const DEFAULT_CTX = 2048;  // Ollama's default num_ctx
const MAX_PREDICT = 512;   // an answer longer than this is a model repeating itself

const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, maxThreads: THREADS, logLevel: "error" });
const model = await llama.loadModel({ modelPath: path.resolve(args.model) });
const TRAIN_CTX = model.trainContextSize;
const grammars = new Map();

let queue = Promise.resolve();
function exclusive(job) {  // one generation at a time: the machine has two cores
  const run = queue.then(job, job);
  queue = run.catch(() => undefined);
  return run;
}

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

async function grammarFor(format) {
  if (!format) return undefined;
  const key = JSON.stringify(format);
  if (!grammars.has(key)) {
    grammars.set(key, format === "json" ? await llama.getGrammarFor("json") : await llama.createGrammarForJsonSchema(format));
  }
  return grammars.get(key);
}

function history(messages) {
  const items = messages.map((m) => m.role === "assistant"
    ? { type: "model", response: [String(m.content ?? "")] }
    : { type: m.role === "system" ? "system" : "user", text: String(m.content ?? "") });
  items.push({ type: "model", response: [] });
  return items;
}

const modelInfo = () => ({
  name: MODEL_NAME, model: MODEL_NAME, modified_at: new Date(0).toISOString(), size: model.size,
  digest: "btk-test-" + path.basename(args.model),
  details: { format: "gguf", family: "llama", parameter_size: "135M", quantization_level: "Q4_1" },
});

async function generate(req, res, body, kind) {
  if (body.model !== MODEL_NAME && body.model !== MODEL_NAME.split(":")[0]) {
    return send(res, 404, { error: `model "${body.model}" not found, try pulling it first` });
  }
  const messages = kind === "chat" ? (body.messages ?? [])
    : [...(body.system ? [{ role: "system", content: body.system }] : []), { role: "user", content: body.prompt ?? "" }];
  const options = body.options ?? {};
  const stream = body.stream !== false;
  const abort = new AbortController();
  res.on("close", () => { if (!res.writableEnded) abort.abort(); });  // the client went away: stop generating
  const started = process.hrtime.bigint();
  const grammar = await grammarFor(body.format);
  return exclusive(async () => {
    if (abort.signal.aborted) return;
    const contextSize = Math.min(Number(options.num_ctx ?? DEFAULT_CTX), TRAIN_CTX);
    const context = await model.createContext({ contextSize, threads: THREADS });
    const chat = new LlamaChat({ contextSequence: context.getSequence() });
    const piece = (text, done, extra = {}) => ({
      model: body.model, created_at: new Date().toISOString(),
      ...(kind === "chat" ? { message: { role: "assistant", content: text } } : { response: text }),
      done, ...extra,
    });
    if (stream) res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    try {
      const answer = await chat.generateResponse(history(messages), {
        grammar, signal: abort.signal, stopOnAbortSignal: true,
        temperature: options.temperature ?? 0.8, topK: options.top_k ?? 40, topP: options.top_p ?? 0.9,
        repeatPenalty: { penalty: options.repeat_penalty ?? 1.1, lastTokens: options.repeat_last_n ?? 64 },
        seed: options.seed, maxTokens: Math.min(options.num_predict > 0 ? options.num_predict : MAX_PREDICT, MAX_PREDICT),
        onTextChunk: stream ? (text) => res.write(JSON.stringify(piece(text, false)) + "\n") : undefined,
      });
      const meter = chat.sequence.tokenMeter;
      const final = {
        done_reason: answer.metadata.stopReason === "maxTokens" ? "length" : "stop",
        total_duration: Number(process.hrtime.bigint() - started), prompt_eval_count: meter.usedInputTokens,
        eval_count: meter.usedOutputTokens,
      };
      console.log(JSON.stringify({ api: kind, format: body.format ? (body.format === "json" ? "json" : "schema") : null,
        num_ctx: contextSize, prompt_eval_count: final.prompt_eval_count, eval_count: final.eval_count,
        ms: Math.round(final.total_duration / 1e6), stop: answer.metadata.stopReason }));
      if (stream) res.end(JSON.stringify(piece("", true, final)) + "\n");
      else send(res, 200, piece(answer.response, true, final));
    } catch (error) {
      if (!res.headersSent) send(res, 500, { error: String(error?.message ?? error) });
      else res.end(JSON.stringify({ error: String(error?.message ?? error) }) + "\n");
    } finally {
      chat.dispose();
      await context.dispose();
    }
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://localhost");
    if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/api/version")) {
      return url.pathname === "/" ? res.end("Ollama is running") : send(res, 200, { version: "0.6.3-btk-test" });
    }
    if (req.method === "GET" && url.pathname === "/api/tags") return send(res, 200, { models: [modelInfo()] });
    if (req.method === "POST" && url.pathname === "/api/show") {
      const body = await readJson(req);
      const name = body.model ?? body.name;
      if (name !== MODEL_NAME && name !== MODEL_NAME.split(":")[0]) return send(res, 404, { error: `model '${name}' not found` });
      return send(res, 200, {
        modelfile: `FROM ${path.basename(args.model)}`, parameters: "temperature 0.8\ntop_k 40\ntop_p 0.9",
        template: "{{ .Prompt }}", details: modelInfo().details, capabilities: ["completion"],
        model_info: { "general.architecture": "llama", "llama.context_length": TRAIN_CTX },
      });
    }
    if (req.method === "POST" && (url.pathname === "/api/chat" || url.pathname === "/api/generate")) {
      return await generate(req, res, await readJson(req), url.pathname === "/api/chat" ? "chat" : "generate");
    }
    return send(res, 404, { error: `${req.method} ${url.pathname} not found` });
  } catch (error) {
    if (!res.headersSent) send(res, 400, { error: String(error?.message ?? error) });
  }
});

server.listen(PORT, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${PORT} (${MODEL_NAME}, ${THREADS} threads, context ${TRAIN_CTX})`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => { server.close(); process.exit(0); });
