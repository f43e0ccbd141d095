#!/usr/bin/env node
// An openai (Node) script as anyone writes it: only the base URL and key set.
//   NODE_PATH=path/to/node_modules node sim/clients/plain_openai.cjs http://127.0.0.1:8787/v1 2
const OpenAI = require("openai");

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "sk-not-checked" });

async function main() {
  const calls = Number(process.argv[3] ?? 1);
  for (let i = 0; i < calls; i++) {
    try {
      const reply = await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Say hi" }],
      });
      console.log(reply.choices[0].message.content);
    } catch (error) {
      console.log(`failed: ${error.message}`);
    }
  }
}

main();
