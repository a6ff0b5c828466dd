// SOS pendant codec in The Things Stack format: decodeUplink(input) with
// input = {bytes, fPort, recvTime} → {data, warnings, errors}.
// Written for mimamori; byte layout in ../sos_button_v1.yaml.
var EVENTS = ['heartbeat', 'press', 'long_press', 'cancel'];

function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 1) {
    return { errors: ['fPort ' + input.fPort + ' is not used by this device (expected 1)'] };
  }
  if (b.length !== 2) {
    return { errors: ['payload is ' + b.length + ' bytes, expected 2 (event, battery)'] };
  }
  var event = EVENTS[b[0]];
  if (event === undefined) {
    return { errors: ['byte 0 (event): unknown event code ' + b[0]] };
  }
  var warnings = [];
  if (b[1] > 100) {
    return { errors: ['byte 1 (battery): ' + b[1] + ' % is above 100'] };
  }
  if (b[1] < 15) warnings.push('battery low: ' + b[1] + ' %');
  return {
    data: { sos: event === 'press' || event === 'long_press', battery: b[1] },
    warnings: warnings,
  };
}
