module.exports = () => require('./services').setup();
