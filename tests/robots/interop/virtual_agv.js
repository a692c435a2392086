// One virtual AGV of vda-5050-lib (AgvController + VirtualAgvAdapter) against an MQTT broker.
//
// node virtual_agv.js BROKER_URL MANUFACTURER SERIAL [X Y MAP_ID LAST_NODE_ID [TIME_LAPSE]]
//
// Prints one JSON line {"ready": ...} once connected and ONLINE, and stops cleanly (OFFLINE) on SIGTERM/SIGINT.
"use strict";

const { AgvController, VirtualAgvAdapter } = require("vda-5050-lib");

async function main() {
    const [brokerUrl, manufacturer, serialNumber, x = "0", y = "0", mapId = "local", lastNodeId = "0", lapse = "1"] =
        process.argv.slice(2);
    if (!brokerUrl || !manufacturer || !serialNumber) {
        console.error("usage: node virtual_agv.js BROKER_URL MANUFACTURER SERIAL [X Y MAP_ID LAST_NODE_ID [TIME_LAPSE]]");
        process.exit(2);
    }
    const controller = new AgvController(
        { manufacturer, serialNumber },
        { interfaceName: "uagv", transport: { brokerUrl }, vdaVersion: "2.0.0" },
        { agvAdapterType: VirtualAgvAdapter },
        {
            initialPosition: { mapId, x: Number(x), y: Number(y), theta: 0, lastNodeId },
            timeLapse: Number(lapse),
        },
    );
    await controller.start();
    const version = require("vda-5050-lib/package.json").version;
    console.log(JSON.stringify({ ready: true, library: "vda-5050-lib", version, manufacturer, serialNumber }));
    let stopping = false;
    const stop = async () => {
        if (stopping) {
            return;
        }
        stopping = true;
        try {
            await controller.stop();
        } finally {
            process.exit(0);
        }
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main().catch(err => {
    console.error(err);
    process.exit(1);
});
