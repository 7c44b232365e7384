// Drives a kvserve server with the official `openai` npm client. Started by OpenAiNodeClientTest,
// which passes KVSERVE_BASE_URL (http://127.0.0.1:PORT/v1), KVSERVE_API_KEY and KVSERVE_MODEL.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.KVSERVE_BASE_URL;
const apiKey = process.env.KVSERVE_API_KEY;
const model = process.env.KVSERVE_MODEL;
assert.ok(baseURL && apiKey && model, 'KVSERVE_BASE_URL, KVSERVE_API_KEY and KVSERVE_MODEL must be set');
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const results = {};

// models
const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id), [model]);

// chat, whole
const chat = await client.chat.completions.create({
  model, messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'A story about a dog' }],
  max_tokens: 16, temperature: 0, logprobs: true, top_logprobs: 3,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices.length, 1);
assert.equal(chat.choices[0].message.role, 'assistant');
assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
assert.equal(chat.choices[0].logprobs.content.length, chat.usage.completion_tokens);
assert.equal(chat.choices[0].logprobs.content[0].top_logprobs.length, 3);
assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
assert.equal(typeof chat.usage.prompt_tokens_details.cached_tokens, 'number');
results.chat = chat.choices[0].message.content;

// chat, streamed: the same text as the whole answer, then usage
const stream = await client.chat.completions.create({
  model, messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'A story about a dog' }],
  max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let streamed = '';
let finish = null;
let usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    streamed += c.delta?.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.equal(streamed, results.chat);
assert.ok(['stop', 'length'].includes(finish));
assert.equal(usage.completion_tokens, chat.usage.completion_tokens);
// the second identical prompt reuses the cached prefix
assert.ok(usage.prompt_tokens_details.cached_tokens > 0, `cached_tokens ${usage.prompt_tokens_details.cached_tokens}`);

// completions, whole and streamed
const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0, n: 2, seed: 3 });
assert.equal(completion.object, 'text_completion');
assert.equal(completion.choices.length, 2);
assert.equal(completion.choices[0].text, completion.choices[1].text); // greedy
const cstream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stream: true });
let ctext = '';
for await (const chunk of cstream) for (const c of chunk.choices) ctext += c.text;
assert.equal(ctext, completion.choices[0].text);
results.completion = ctext;

// stop strings
const stopped = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: ['.'] });
assert.ok(!stopped.choices[0].text.includes('.'));

// errors come back as the client's typed errors
await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), OpenAI.NotFoundError);
await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 9 }), OpenAI.BadRequestError);
const wrongKey = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
await assert.rejects(wrongKey.models.list(), OpenAI.AuthenticationError);

// cancellation: abort a long stream after a few chunks
const controller = new AbortController();
const long = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 400, stream: true }, { signal: controller.signal });
let n = 0;
try {
  for await (const chunk of long) { if (++n === 3) controller.abort(); }
} catch (e) {
  assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', String(e));
}

console.log(JSON.stringify({ ok: true, results }));
