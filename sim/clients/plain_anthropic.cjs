#!/usr/bin/env node
// An @anthropic-ai/sdk script as anyone writes it: only the base URL and key set.
//   NODE_PATH=path/to/node_modules node sim/clients/plain_anthropic.cjs http://127.0.0.1:8787 2
const Anthropic = require("@anthropic-ai/sdk");

const client = new Anthropic({ baseURL: process.argv[2], apiKey: "sk-not-checked" });

async function main() {
  const calls = Number(process.argv[3] ?? 1);
  for (let i = 0; i < calls; i++) {
    try {
      const reply = await client.messages.create({
        model: "claude-haiku-4-5",
        max_tokens: 64,
        messages: [{ role: "user", content: "Say hi" }],
      });
      console.log(reply.content[0].text);
    } catch (error) {
      console.log(`failed: ${error.message}`);
    }
  }
}

main();
