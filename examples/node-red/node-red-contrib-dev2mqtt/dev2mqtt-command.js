// Registers the `dev2mqtt command` subflow with Node-RED (a subflow module,
// see package.json's node-red section). The two function nodes' code lives in
// functions/*.js so it can be linted and read as code; it is put into the
// subflow definition here, at load time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = function (RED) {
  const read = (file) => fs.readFileSync(path.join(__dirname, file), 'utf8');
  const subflow = JSON.parse(read('dev2mqtt-command.json'));
  for (const n of subflow.flow) {
    for (const [prop, file] of Object.entries(n.codeFiles ?? {})) n[prop] = read(file);
    delete n.codeFiles;
  }
  RED.nodes.registerSubflow(subflow);
};
